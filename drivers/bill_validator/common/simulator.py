"""The validator half every bill-validator simulator shares, on top of drivers/simbase.py:
the note in flight and the counters in the state file (the device's NVRAM), fault knobs, the
inter-byte timeout, reply corruption, and the bench words every validator has (``insert``,
the fault words, ``clear``, ``cashbox-insert``, ``counters``, ``status``, ``help`` and the
numeric knobs).  A protocol's simulator adds its wire side and its own words
(docs/adding-a-protocol.md, "A bill validator").
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, ClassVar, Collection

from drivers.simbase import SimulatorBase

log = logging.getLogger(__name__)

INTER_BYTE_TIMEOUT = 0.1  # seconds of silence that end a partial frame


def fresh_state() -> dict[str, Any]:
    return {
        "counters": {"stacked": {}, "total_notes": 0, "returned": 0, "rejected": 0},
        "note": None,  # {"value": fen, <the protocol's channel key>, "stage": str, ...}
        "faults": [],
    }


class ValidatorSimulator(SimulatorBase):
    #: the stages a note in flight may be at (a state file naming another is not believed)
    STAGES: ClassVar[Collection[str]] = ()
    #: the fault knobs this unit has
    FAULT_NAMES: ClassVar[Collection[str]] = ()  # a mapping name → status where it has one
    #: bench word → fault knob (every validator has these; a unit with more extends it)
    BENCH_FAULTS: ClassVar[dict[str, str]] = {
        "jam": "acceptor_jam", "stacker-jam": "stacker_jam", "stacker-full": "stacker_full",
        "cashbox-remove": "cashbox_removed", "cheat": "cheated"}
    #: bench word → integer knob attribute (``corrupt 2``: the next two replies damaged)
    KNOBS: ClassVar[dict[str, str]] = {"corrupt": "corrupt_replies", "ignore-ack": "ignore_acks"}
    #: what the manual calls a banknote ("note", "bill")
    NOTE_WORD: ClassVar[str] = "note"
    #: stages where a note is still in the path (a reset returns it), past escrow (a reset
    #: stacks it); the status a unit powers up with: no note, a note in the path, in the stacker
    IN_PATH: ClassVar[Collection[str]] = ()
    IN_STACKER: ClassVar[Collection[str]] = ()
    POWER_UP_STATUS: ClassVar[tuple[int, int, int]] = (0, 0, 0)
    #: the fault status that carries a failure code byte
    FAILURE_STATUS: ClassVar[int | None] = None

    _reader: Any
    #: waiting for the host's reset after power-on (protocols that have such a state)
    _power_up = False

    def __init__(self, state_path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(state_path)
        self.state = self._sane(self.state_file.load(fresh_state()))
        self._last_rx = 0.0
        self.corrupt_replies = 0
        self.ignore_acks = 0

    @classmethod
    def _sane(cls, state: dict[str, Any]) -> dict[str, Any]:
        """A state file from an older version or edited by hand must not crash the device."""
        counters = state.get("counters")
        state["counters"] = {**fresh_state()["counters"],
                             **(counters if isinstance(counters, dict) else {})}
        note = state.get("note")
        if note is not None and not (isinstance(note, dict) and note.get("stage") in cls.STAGES
                                     and isinstance(note.get("value"), int)):
            log.warning("simulator state: unusable in-flight %s %r dropped", cls.NOTE_WORD, note)
            state["note"] = None
        faults = state.get("faults")
        state["faults"] = [f for f in (faults if isinstance(faults, list) else [])
                           if f in cls.FAULT_NAMES]
        return state

    # ------------------------------------------------------------ wire side
    def on_bytes(self, data: bytes) -> bytes:
        self._last_rx = time.monotonic()
        return b"".join(self._answer(frame) for frame in self._reader.feed(data))

    def _answer(self, frame: Any) -> bytes:
        raise NotImplementedError

    def on_tick(self) -> bytes:
        # Inter-byte timeout: a frame left half-sent is dropped, as the device's UART would.
        if self._reader.pending and time.monotonic() - self._last_rx > INTER_BYTE_TIMEOUT:
            self._reader.flush()
        self._tick()
        return b""

    def _tick(self) -> None:
        """What the unit does by itself with time (an escrow period running out)."""

    @property
    def host_frames_bad(self) -> int:
        return int(self._reader.frames_bad)

    def _damaged(self, raw: bytes) -> bytes:
        """Fault knob: the next ``corrupt_replies`` answers leave with a bad check byte."""
        if self.corrupt_replies > 0:
            self.corrupt_replies -= 1
            return raw[:-1] + bytes([raw[-1] ^ 0x5A])
        return raw

    # ------------------------------------------------------------ the note and the counters
    def _set_stage(self, stage: str | None) -> None:
        """Every stage change is written to the state file, as the device's NVRAM would."""
        if stage is None:
            self.state["note"] = None
        else:
            self.state["note"]["stage"] = stage
        self.state_file.save(self.state)

    def _count_stacked(self, note: dict[str, Any]) -> None:
        counters = self.state["counters"]
        key = str(note["value"])
        counters["stacked"][key] = counters["stacked"].get(key, 0) + 1
        counters["total_notes"] += 1

    def _overlay(self, failure_code: int) -> tuple[int, bytes] | None:
        """What the unit reports over the note cycle: its power-up status (where the note is),
        else the first active fault in FAULT_NAMES order; None when neither."""
        if self._power_up:
            note = self.state["note"]
            stage = note["stage"] if note else None
            plain, in_path, in_stacker = self.POWER_UP_STATUS
            return (in_path if stage in self.IN_PATH else
                    in_stacker if stage in self.IN_STACKER else plain), b""
        for name, code in dict(self.FAULT_NAMES).items():
            if name in self.state["faults"]:
                return code, bytes([failure_code]) if code == self.FAILURE_STATUS else b""
        return None

    def _finish_in_flight(self) -> None:
        """A reset finishes what the mechanism holds: a note already past escrow goes to the
        cash box, one still in the path goes back to the customer."""
        note = self.state["note"]
        if not note:
            return
        if note["stage"] in self.IN_STACKER:
            self._count_stacked(note)
        elif note["stage"] == "rejecting":
            self.state["counters"]["rejected"] += 1
        elif note["stage"] in self.IN_PATH:
            self.state["counters"]["returned"] += 1
        self._set_stage(None)

    def _put_note(self, note: dict[str, Any]) -> None:
        """A resident pushes a note in.  Raises ValueError when the device cannot take one."""
        with self._lock:
            if self._power_up:
                raise ValueError("device is in power-up state (waiting for a reset)")
            if self.state["note"] is not None:
                raise ValueError(f"a {self.NOTE_WORD} is already in the device "
                                 f"({self.state['note']['stage']})")
            if self.state["faults"]:
                raise ValueError(f"device in fault: {', '.join(self.state['faults'])}")
            self.state["note"] = note
            self.state_file.save(self.state)

    def insert_note(self, value_minor: int, **how: Any) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ faults
    def set_fault(self, name: str) -> None:
        if name not in self.FAULT_NAMES:
            raise ValueError(f"unknown fault {name!r}")
        with self._lock:
            if name not in self.state["faults"]:
                self.state["faults"].append(name)
                self._fault_changed(name, True)
                self.state_file.save(self.state)

    def clear_faults(self, *names: str) -> None:
        """Clear the named faults, or every fault when none is named."""
        with self._lock:
            before = self.state["faults"]
            self.state["faults"] = [f for f in before if names and f not in names]
            for name in before:
                if name not in self.state["faults"]:
                    self._fault_changed(name, False)
            self.state_file.save(self.state)

    def _fault_changed(self, name: str, on: bool) -> None:
        """A fault knob turned on or off (for units that report it as an event)."""

    def counters(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.state["counters"]))

    def _status_text(self, head: list[str], middle: list[str]) -> str:
        """The ``status`` line: ``head``, the note in flight, ``middle``, the faults."""
        note = self.state["note"]
        parts = head + ([f"note={note['value']} stage={note['stage']}"] if note else [])
        return " ".join(parts + middle + [f"faults={','.join(self.state['faults']) or '-'}"])

    def status_line(self) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------ bench prompt
    def _command(self, verb: str, args: list[str]) -> str:
        if verb in self.BENCH_FAULTS:
            self.set_fault(self.BENCH_FAULTS[verb])
            return f"ok: {self.BENCH_FAULTS[verb]}"
        if verb == "insert":
            if len(args) != 1 or not args[0].isdigit():
                raise ValueError("usage: insert <yuan> (a whole number)")
            self.insert_note(int(args[0]) * 100)
            return f"ok: inserted {args[0]} yuan"
        if verb == "cashbox-insert":
            self.clear_faults("cashbox_removed", "stacker_full")  # an emptied box goes back in
            return "ok: cash box inserted"
        if verb == "clear":
            self.clear_faults()
            return "ok: faults cleared"
        if verb in self.KNOBS:
            if len(args) != 1 or not args[0].isdigit():
                raise ValueError(f"usage: {verb} <n>")
            setattr(self, self.KNOBS[verb], int(args[0]))
            return f"ok: {verb} {int(args[0])}"
        if verb == "counters":
            return json.dumps(self.counters(), sort_keys=True, separators=(",", ":"))
        if verb == "status":
            return self.status_line()
        if verb == "help":
            return self.help_text
        answer = self._own_command(verb, args)
        return answer if answer is not None else f"error: unknown command {verb!r} (try help)"

    def _own_command(self, verb: str, args: list[str]) -> str | None:
        """This protocol's own bench words; None when ``verb`` is not one of them."""
        return None
