"""What the demo's developer panel and hotkeys do to the simulated world: tap a card, scan a
bill, insert notes and coins, jam the validator, run the printer out of paper, cut the network. No Kivy here:
the panel and the hotkeys only call ``do(action)``."""

from __future__ import annotations

import logging
import threading
from typing import Any

from billing_server.seed import DEMO_BILLS, DEMO_CARDS, UNSEEDED_CARD
from kiosk.flow.money import format_minor

log = logging.getLogger(__name__)

#: action → (hotkey, label shown on the panel)
ACTIONS: dict[str, tuple[str, str]] = {
    "card": ("c", "Tap next demo card"),
    "card_unknown": ("u", "Tap an unknown card"),
    "scan_bill": ("b", "Scan next demo bill"),
    "scan_other": ("g", "Scan a code that is no bill"),
    "note_100": ("1", "Insert ¥1 note"),
    "note_500": ("2", "Insert ¥5 note"),
    "note_1000": ("3", "Insert ¥10 note"),
    "note_2000": ("4", "Insert ¥20 note"),
    "note_5000": ("5", "Insert ¥50 note"),
    "note_10000": ("6", "Insert ¥100 note"),
    "coin_10": ("q", "Insert ¥0.1 coin"),
    "coin_50": ("w", "Insert ¥0.5 coin"),
    "coin_100": ("e", "Insert ¥1 coin"),
    "jam": ("j", "Jam the note validator"),
    "clear": ("k", "Clear validator faults"),
    "paper_out": ("p", "Printer: paper out"),
    "paper_ok": ("o", "Printer: paper loaded"),
    "paper_mid": ("m", "Printer: paper runs out mid-receipt"),
    "network": ("n", "Cut / restore the network"),
}
CARD_LIFT_S = 1.0  # a resident holds the card to the reader for about a second


class DemoControls:
    def __init__(self, hub: Any, server: Any) -> None:
        self.hub = hub
        self.server = server
        self._cards = list(DEMO_CARDS)
        self._next_card = 0
        self._bills = list(DEMO_BILLS.values())
        self._next_bill = 0
        self.network_up = True
        self.last = ""
        self.listeners: list[Any] = []

    def hotkey(self, char: str) -> bool:
        for action, (key, _label) in ACTIONS.items():
            if key == char:
                self.do(action)
                return True
        return False

    def do(self, action: str) -> str:
        try:
            result = self._do(action)
        except Exception as exc:  # a bench knob must never take the demo down
            log.exception("demo action %s", action)
            result = f"{action}: {exc}"
        self.last = result
        log.info("demo: %s", result)
        for listener in list(self.listeners):
            listener(result)
        return result

    def _do(self, action: str) -> str:
        kind, _, arg = action.partition("_")
        if action == "card":
            uid = self._cards[self._next_card % len(self._cards)]
            self._next_card += 1
            return self._tap(uid)
        if action == "card_unknown":
            return self._tap(UNSEEDED_CARD)
        if action == "scan_bill":
            code = self._bills[self._next_bill % len(self._bills)]
            self._next_bill += 1
            return self.hub.get("scanner").command(f"scan {code}")
        if action == "scan_other":  # a product's EAN-13, as a resident might hold up by mistake
            return self.hub.get("scanner").command("scan 6901234567892 ]E0")
        if kind == "note":
            self.hub.get("bill-validator").insert_note(int(arg))
            return f"note {format_minor(int(arg))} inserted"
        if kind == "coin":
            return self.hub.get("coin-acceptor").insert_coin(int(arg))
        if action == "jam":
            return self.hub.get("bill-validator").command("jam")
        if action == "clear":
            return self.hub.get("bill-validator").command("clear")
        if action == "paper_out":
            return self.hub.get("printer").command("paper out")
        if action == "paper_ok":
            return self.hub.get("printer").command("paper ok")
        if action == "paper_mid":
            return self.hub.get("printer").command("paper out-after 3")
        if action == "network":
            return self.toggle_network()
        raise ValueError(f"unknown action {action!r}")

    def _tap(self, uid: str) -> str:
        reader = self.hub.get("card-reader")
        reader.present(uid)
        timer = threading.Timer(CARD_LIFT_S, reader.remove)
        timer.daemon = True
        timer.start()
        return f"card {uid[:2]}******{uid[-2:]} tapped"

    def toggle_network(self) -> str:
        """Stops the reference server (connections refused) or starts it again on the same port."""
        if self.network_up:
            self.server.stop()
            self.network_up = False
            return "network cut: the billing server is unreachable"
        self.server.start()
        self.network_up = True
        return f"network back: {self.server.url}"


def help_text() -> str:
    lines = ["demo hotkeys (in the kiosk window; F12 shows the developer panel):"]
    lines += [f"  {key}  {label}" for key, label in ACTIONS.values()]
    return "\n".join(lines)
