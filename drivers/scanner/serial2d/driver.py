"""Serial 2D scanner driver: one read thread turns the scanner's lines into CodeScanned events.

The thread only reads, decodes and posts (docs/architecture.md, "One thread decides"): what a
code means -- a bill, a payment code, neither -- is decided on the deciding thread. Here a line
that is not a clean code is dropped and counted, and the same code seen again within the
debounce window (a phone or bill held in front of a presentation-mode scanner is read again and
again) is one event.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import serial

from drivers.interfaces import (
    CodeScanned,
    DeviceFault,
    DeviceFaultCleared,
    Health,
    HealthState,
)
from drivers.reader_thread import ReaderThread
from drivers.scanner.serial2d.protocol import (
    TRIGGER_MODES,
    TRIGGER_ON,
    Framing,
    LineDecoder,
    MenuReply,
    Scan,
    mask_code,
    menu_command,
)

log = logging.getLogger(__name__)

READ_TIMEOUT = 0.05
PORT_RETRY = 0.5
#: a line with no CR this long after its last byte broke off (at 9600 baud a 256-character
#: code takes 0.27 s on the wire, and the scanner sends a code in one burst)
LINE_GAP_S = 0.5
#: how long the start-up trigger command waits for the scanner's echo
MENU_REPLY_S = 1.0
#: manual trigger: the scanner stops after its read time-out (30 s by default in the guides'
#: "Read Time-Out"); the driver starts a new read well before
REARM_S = 20.0


class Serial2dDriver(ReaderThread):
    """``trigger``: ``presentation`` or ``serial`` sets that trigger mode at start (volatile
    table); ``keep`` sends nothing (a scanner set up with its programming bar codes, or of
    another family)."""

    THREAD_PREFIX = "scanner"

    def __init__(self, name: str, port: serial.SerialBase, framing: Framing = Framing(),
                 debounce_ms: int = 1500, trigger: str = "presentation", owns_port: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if debounce_ms < 0:
            raise ValueError("debounce_ms must be 0 or more")
        if trigger not in (*TRIGGER_MODES, "keep"):
            raise ValueError(f"trigger must be one of {', '.join(TRIGGER_MODES)}, keep")
        self.name = name
        self.port = port
        self.owns_port = owns_port
        self.framing = framing
        self.debounce_s = debounce_ms / 1000
        self.trigger = trigger
        self._clock = clock
        self._decoder = LineDecoder(framing)
        self._counts = {"repeats": 0, "port_errors": 0, "menu_unanswered": 0}
        self._last: tuple[str, float] | None = None  # the last code and when it was last seen
        self._last_byte = 0.0
        self._mode_sent_at: float | None = None
        self._armed_at = 0.0
        self._identity: dict[str, str] = {"protocol": "serial2d"}
        self._port_down = False
        ReaderThread.__init__(self)

    @property
    def stats(self) -> dict[str, int]:
        return {**self._decoder.stats, **self._counts}

    def identity(self) -> dict[str, str]:
        return dict(self._identity)

    # ------------------------------------------------------------ read thread
    def _run(self) -> None:
        setup_done = self.trigger == "keep"
        while not self._stop.is_set():
            try:
                if not setup_done:
                    self._set_trigger_mode()
                    setup_done = True
                self._rearm_if_due()
                data = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                self._port_failed(exc)
                setup_done = self.trigger == "keep"  # a scanner plugged back in starts afresh
                self._stop.wait(PORT_RETRY)
                continue
            try:
                self._port_ok()
                self._received(data)
            except Exception:  # a bug in a handler must not stop the reader
                log.exception("%s: unexpected error", self.name)

    def _received(self, data: bytes) -> None:
        now = self._clock()
        if data:
            self._last_byte = now
        elif self._decoder.pending and now - self._last_byte > LINE_GAP_S:
            self._decoder.drop_partial()
            log.info("%s: a line broke off without its CR: dropped", self.name)
        for item in self._decoder.feed(data):
            if isinstance(item, MenuReply):
                self._menu_reply(item)
            else:
                self._scanned(item, now)
        if self._mode_sent_at is not None and now - self._mode_sent_at > MENU_REPLY_S:
            self._mode_sent_at = None
            self._counts["menu_unanswered"] += 1
            self._identity["trigger_mode"] = "no answer"
            log.warning("%s: no answer to the trigger-mode command (a scanner of another "
                        "family, or host commands off): codes are still read", self.name)

    def _set_trigger_mode(self) -> None:
        self.port.write(menu_command("TRGMOD" + TRIGGER_MODES[self.trigger]))
        self._mode_sent_at = self._clock()
        if self.trigger == "serial":
            self._arm()

    def _arm(self) -> None:
        self.port.write(TRIGGER_ON)
        self._armed_at = self._clock()

    def _rearm_if_due(self) -> None:
        if self.trigger == "serial" and self._clock() - self._armed_at > REARM_S:
            self._arm()

    def _menu_reply(self, reply: MenuReply) -> None:
        if reply.command.upper().startswith("TRGMOD") and self._mode_sent_at is not None:
            self._mode_sent_at = None
            self._identity["trigger_mode"] = (reply.command[6:] if reply.status == "ack"
                                              else f"refused ({reply.status})")
        log.info("%s: scanner answered %s %s", self.name, reply.command, reply.status)

    def _scanned(self, scan: Scan, now: float) -> None:
        if self.trigger == "serial":
            self._arm()  # the scanner stopped after this read: start the next one
        last = self._last
        self._last = (scan.text, now)
        if last is not None and last[0] == scan.text and now - last[1] < self.debounce_s:
            self._counts["repeats"] += 1
            return
        log.info("%s: code %s read", self.name, mask_code(scan.text))
        self._emit(CodeScanned(self.name, scan.text, scan.symbology))

    def _port_failed(self, exc: Exception) -> None:
        self._counts["port_errors"] += 1
        self._decoder.drop_partial()
        if not self._port_down:
            self._port_down = True
            self._health = Health(HealthState.FAULT, f"scanner port: {exc}")
            log.warning("%s: port error: %s", self.name, exc)
            self._emit(DeviceFault(self.name, "port", str(exc), locking=False))

    def _port_ok(self) -> None:
        if self._port_down:
            self._port_down = False
            self._health = Health(HealthState.OK)
            log.info("%s: port back", self.name)
            self._emit(DeviceFaultCleared(self.name, "port"))
