"""An EM4100 / RDM6300-style reader on a pty: streams the present card's frame every
``repeat_interval``, with noise and unplug knobs; reads per card are kept in the state file."""

from __future__ import annotations

import logging
import os
import time

from drivers.card_reader.em4100.protocol import CardId, encode_frame, mask_uid
from drivers.simbase import SimulatorBase

log = logging.getLogger(__name__)

HELP = "present <card id hex10> | remove | noise <hex> | unplug | plug | counters | status | help"
SAVE_EVERY = 1.0  # seconds between state-file writes while a card streams


class Em4100Simulator(SimulatorBase):
    help_text = HELP

    def __init__(
        self, state_path: str | os.PathLike[str] | None = None, repeat_interval: float = 0.1
    ) -> None:
        super().__init__(state_path)
        if repeat_interval <= 0:
            raise ValueError("repeat_interval must be positive")
        self.repeat_interval = repeat_interval
        self.tick_interval = min(0.05, repeat_interval / 2)
        state = self.state_file.load({"reads": {}, "presentations": 0})
        self.reads: dict[str, int] = {str(k): int(v) for k, v in state["reads"].items()}
        self.presentations = int(state["presentations"])
        self.card: CardId | None = None
        self.plugged = True
        self._next_emit = 0.0
        self._dirty = False
        self._last_save = 0.0

    def _save(self) -> None:
        self.state_file.save({"reads": self.reads, "presentations": self.presentations})
        self._dirty = False
        self._last_save = time.monotonic()

    def on_bytes(self, data: bytes) -> bytes:
        return b""  # output-only reader: whatever the host sends is ignored

    def on_tick(self) -> bytes:
        now = time.monotonic()
        if self._dirty and now - self._last_save >= SAVE_EVERY:
            self._save()
        if self.card is None or not self.plugged or now < self._next_emit:
            return b""
        self._next_emit = now + self.repeat_interval
        uid = self.card.uid
        self.reads[uid] = self.reads.get(uid, 0) + 1
        self._dirty = True
        return encode_frame(self.card)

    def stop(self) -> None:
        super().stop()
        with self._lock:
            if self._dirty:
                self._save()

    # ------------------------------------------------------------ bench
    def present(self, uid: str) -> CardId:
        card = CardId.from_uid(uid)
        with self._lock:
            self.card = card
            self.presentations += 1
            self._next_emit = 0.0  # first frame on the next tick
            self._save()
        log.info("simulated card %s in the field", mask_uid(card.uid))
        return card

    def remove(self) -> None:
        with self._lock:
            self.card = None
            self._save()

    def _command(self, cmd: str, args: list[str]) -> str:
        if cmd == "present":
            if len(args) != 1:
                raise ValueError("usage: present <card id hex10>")
            return f"card {self.present(args[0]).uid} in the field"
        if cmd == "remove":
            had = self.card
            self.remove()
            return "card removed" if had else "no card was present"
        if cmd == "unplug":
            self.plugged = False
            return "reader unplugged: no output"
        if cmd == "plug":
            self.plugged = True
            return "reader plugged in"
        if cmd == "counters":
            with self._lock:
                reads = " ".join(f"{u}:{n}" for u, n in sorted(self.reads.items())) or "none"
                return f"presentations {self.presentations}; reads {reads}"
        if cmd == "status":
            card = self.card.uid if self.card else "none"
            return (
                f"card {card}; {'plugged' if self.plugged else 'unplugged'}; repeat "
                f"{round(self.repeat_interval * 1000)} ms"
            )
        if cmd == "help":
            return HELP
        return f"error: unknown command {cmd!r} ({HELP})"
