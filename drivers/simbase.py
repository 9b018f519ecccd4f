"""Common machinery for device simulators: a serve loop on a pty master, a command prompt for
technicians and tests, and non-volatile counters in a state file that outlive the host process.

A concrete simulator implements ``on_bytes`` (bytes from the host → bytes to answer, byte for
byte as the device would) and, for devices that talk unprompted, ``on_tick``.
"""

from __future__ import annotations

import json
import logging
import os
import select
import threading
import time
from pathlib import Path
from typing import Any

from drivers.ptypair import PtyPair, open_pty_pair

log = logging.getLogger(__name__)


class StateFile:
    """The device's non-volatile memory: a JSON file replaced atomically (write, fsync, rename)."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path else None

    def load(self, default: dict[str, Any]) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return dict(default)
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("simulator state %s unreadable (%s); starting from defaults", self.path, exc)
            return dict(default)
        merged = dict(default)
        merged.update(data)
        return merged

    def save(self, state: dict[str, Any]) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


class SimulatorBase:
    """Device side of a serial link.  Subclasses override ``on_bytes``, ``on_tick``, ``command``."""

    #: pause between serve-loop ticks (seconds); devices that stream (card readers) use it.
    tick_interval = 0.05

    def __init__(self, state_path: str | os.PathLike[str] | None = None) -> None:
        self.state_file = StateFile(state_path)
        self._lock = threading.RLock()
        self._pty: PtyPair | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: seconds to wait before each answer (fault knob: a slow device)
        self.reply_delay = 0.0
        #: number of coming answers to swallow (fault knob: a dropped reply)
        self.drop_replies = 0

    # ---- protocol side (override)
    def on_bytes(self, data: bytes) -> bytes:
        """Bytes from the host arrived; return what the device sends back (may be b"")."""
        raise NotImplementedError

    def on_tick(self) -> bytes:
        """Called every ``tick_interval``; return bytes the device sends unprompted."""
        return b""

    #: what an empty line (or ``help``) answers at the bench prompt
    help_text = "no commands"

    def command(self, line: str) -> str:
        """One bench command (``kiosk sim`` prompt) → one line of answer; a bad argument is an
        ``error: …`` line, never an exception out of the prompt."""
        words = line.split()
        if not words:
            return self.help_text
        verb, args = words[0].lower(), words[1:]
        try:
            with self._lock:
                shared = self._line_command(verb, args)
                return shared if shared is not None else self._command(verb, args)
        except (ValueError, IndexError) as exc:
            return f"error: {exc or 'bad arguments'}"

    def _line_command(self, verb: str, args: list[str]) -> str | None:
        """The line faults every simulator has: ``noise <hex bytes>`` (garbage on the line now),
        ``drop <n>`` (swallow the next n answers), ``delay <ms>`` (a slow device). None for any
        other verb."""
        if verb == "noise":
            data = bytes.fromhex("".join(args))
            if not data:
                raise ValueError("usage: noise <hex bytes>")
            self.inject(data)
            return f"ok: sent {len(data)} noise bytes"
        if verb in ("drop", "delay"):
            unit = "n" if verb == "drop" else "ms"
            if len(args) != 1 or not args[0].isdigit():
                raise ValueError(f"usage: {verb} <{unit}>")
            n = int(args[0])
            if verb == "drop":
                self.drop_replies = n
                return f"ok: dropping the next {n} replies"
            self.reply_delay = n / 1000
            return f"ok: replies delayed {n} ms"
        return None

    def _command(self, verb: str, args: list[str]) -> str:
        """The device-specific commands (override)."""
        raise NotImplementedError

    # ---- wiring
    @property
    def port_path(self) -> str:
        if self._pty is None:
            raise RuntimeError("simulator not started on a pty")
        return self._pty.slave_path

    def start_on_pty(self) -> str:
        """Serve on a fresh pty pair in a daemon thread; returns the slave path to open."""
        self._pty = open_pty_pair()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f"sim-{type(self).__name__}", daemon=True
        )
        self._thread.start()
        return self._pty.slave_path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._pty is not None:
            self._pty.close()
            self._pty = None

    def inject(self, data: bytes) -> None:
        """Write raw bytes to the host (garbage on the line, noise)."""
        if self._pty is not None:
            os.write(self._pty.master_fd, data)

    def _send(self, data: bytes) -> None:
        if not data or self._pty is None:
            return
        if self.drop_replies > 0:
            self.drop_replies -= 1
            return
        if self.reply_delay:
            time.sleep(self.reply_delay)
        os.write(self._pty.master_fd, data)

    def _serve(self) -> None:
        assert self._pty is not None
        fd = self._pty.master_fd
        next_tick = time.monotonic()
        while not self._stop.is_set():
            timeout = max(0.0, next_tick - time.monotonic())
            try:
                ready, _, _ = select.select([fd], [], [], timeout)
            except (OSError, ValueError):
                return
            if ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                if data:
                    with self._lock:
                        reply = self.on_bytes(data)
                    self._send(reply)
            if time.monotonic() >= next_tick:
                with self._lock:
                    out = self.on_tick()
                self._send(out)
                next_tick = time.monotonic() + self.tick_interval
