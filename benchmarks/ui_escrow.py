"""Escrow event → acknowledgement drawn (used by ``bench_ui``, inside its child processes).

Ours: on the insert screen, the time from the deciding thread receiving the validator's escrow
event (the earliest the terminal knows a note is in the slot) to the first frame drawn that shows
it ("Checking your ¥50.00 note…", or the credit when the note was already stacked). Bare: a
thread stamps the time and hands a new label text to the Kivy thread with ``Clock.schedule_once``,
to the frame that draws it — the same hand-over from another thread to a drawn frame, in a bare
window. Target: ≤ 100 ms (docs/architecture.md: Screen sizes).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

TARGET_MS = 100
NOTES = (1_000, 2_000, 1_000, 5_000)  # against a ¥200 target: six notes stay below it
#: a card whose account owes more than the largest quick amount (billing_server/seed.py), not
#: the one ``ui_stall``'s journey has just paid
ACCOUNT = "3101000051"


def _button(screen: Any, intent: str) -> Any:
    for w in screen.walk(restrict=True):
        if (getattr(w, "intent", None) == intent and getattr(w, "shown", False)
                and not w.disabled and w.get_root_window() is not None):
            return w
    return None


def escrow_ack(app: Any, hub: Any, notes: int, frame_until: Callable[..., float],
               tap: Callable[[Any], None]) -> list[float]:
    """Card → amount → pay → ``notes`` notes, each timed from its escrow event to drawn."""
    from billing_server.seed import DEMO_CARDS
    from drivers.interfaces import NoteEscrowed

    card = next(uid for uid, no in DEMO_CARDS.items() if no == ACCOUNT)
    manager, term = app.manager, app.terminal
    escrowed: list[float] = []
    passed = term.event_filter

    def stamp(ev: Any) -> bool:  # on the deciding thread, before the runner decides
        if isinstance(ev, NoteEscrowed):
            escrowed.append(time.monotonic())
        return passed(ev) if passed is not None else True

    def press(intent: str) -> None:
        frame_until(lambda: _button(manager.current_screen, intent))
        tap(_button(manager.current_screen, intent))

    term.event_filter = stamp
    reader, validator = hub.get("card-reader"), hub.get("bill-validator")
    try:
        reader.present(card)
        frame_until(lambda: manager.current == "account")
        reader.remove()
        press("continue")
        frame_until(lambda: manager.current == "amount")
        press("quick3")
        while manager.current != "insert":  # agree to what is asked (a receipt on screen…)
            frame_until(lambda: manager.current == "insert" or any(
                _button(manager.current_screen, i) for i in ("pay", "confirm")))
            for intent in ("pay", "confirm"):
                if manager.current != "insert" and _button(manager.current_screen, intent):
                    tap(_button(manager.current_screen, intent))
                    frame_until(lambda: True)
        acks = []
        for i in range(notes):
            before, seen = app.session.credited_minor, len(escrowed)
            frame_until(lambda: validator.ready_for_note)
            validator.insert_note(NOTES[i % len(NOTES)])
            drawn = frame_until(lambda: len(escrowed) > seen and (
                app.view.escrow_text or app.session.credited_minor > before))
            acks.append((drawn - escrowed[seen]) * 1000)
            frame_until(lambda: app.session.credited_minor > before)
        press("finish")
        frame_until(lambda: manager.current != "insert")
    finally:
        term.event_filter = passed
    return acks


def bare_ack(label: Any, times: int, frame_until: Callable[..., float]) -> list[float]:
    """A text handed from another thread to the Kivy thread, to the frame that draws it."""
    from kivy.clock import Clock

    acks = []
    for i in range(times):
        sent: list[float] = []
        text = f"note {i}"

        def post(t: str = text) -> None:
            sent.append(time.monotonic())
            Clock.schedule_once(lambda _dt: setattr(label, "text", t))

        threading.Thread(target=post).start()
        drawn = frame_until(lambda t=text: label.text == t)
        acks.append((drawn - sent[0]) * 1000)
    return acks
