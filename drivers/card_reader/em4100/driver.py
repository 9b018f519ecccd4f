"""EM4100 / RDM6300-style reader driver: a read thread turns the repeated frames of a card in the
field into one CardPresented and, once the frames stop, one CardRemoved."""

from __future__ import annotations

import logging
import time

import serial

from drivers.card_reader.em4100.protocol import FrameDecoder, mask_uid
from drivers.interfaces import (
    CardPresented,
    CardRemoved,
    DeviceFault,
    DeviceFaultCleared,
    Health,
    HealthState,
)
from drivers.reader_thread import ReaderThread

log = logging.getLogger(__name__)

#: Read timeout on the port: bounds how late a removal is noticed.
READ_TIMEOUT = 0.05
PORT_RETRY = 0.5


class Em4100Driver(ReaderThread):
    """The reader talks unprompted; silence means no card, so health only reflects the port."""

    THREAD_PREFIX = "em4100"

    def __init__(self, name: str, port: serial.SerialBase, removal_timeout: float = 0.5,
                 owns_port: bool = False) -> None:
        if removal_timeout <= 0:
            raise ValueError("removal_timeout must be positive")
        self.name = name
        self.port = port
        #: close ``port`` on stop() (the driver was given it to keep)
        self.owns_port = owns_port
        self.removal_timeout = removal_timeout
        self._decoder = FrameDecoder()
        self._port_errors = 0
        self._current: str | None = None
        self._last_seen = 0.0
        self._port_down = False
        ReaderThread.__init__(self)

    @property
    def stats(self) -> dict[str, int]:
        return {**self._decoder.stats, "port_errors": self._port_errors}

    @property
    def current_card(self) -> str | None:
        return self._current

    # ------------------------------------------------------------ read thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                self._port_failed(exc)
                self._stop.wait(PORT_RETRY)
                continue
            try:
                self._port_ok()
                now = time.monotonic()
                for card in self._decoder.feed(data):
                    self._seen(card.uid, now)
                if self._current is not None and now - self._last_seen > self.removal_timeout:
                    self._removed()
            except Exception:  # a bug in a handler must not stop the reader
                log.exception("%s: unexpected error", self.name)

    def _seen(self, uid: str, now: float) -> None:
        if uid != self._current:
            if self._current is not None:
                self._removed()
            self._current = uid
            log.info("%s: card %s presented", self.name, mask_uid(uid))
            self._emit(CardPresented(self.name, uid))
        self._last_seen = now

    def _removed(self) -> None:
        uid, self._current = self._current, None
        if uid is not None:
            log.info("%s: card %s removed", self.name, mask_uid(uid))
            self._emit(CardRemoved(self.name, uid))

    def _port_failed(self, exc: Exception) -> None:
        self._port_errors += 1
        self._removed()  # no frames can arrive: the card is as good as gone
        if not self._port_down:
            self._port_down = True
            self._health = Health(HealthState.FAULT, f"card reader port: {exc}")
            log.warning("%s: port error: %s", self.name, exc)
            self._emit(DeviceFault(self.name, "port", str(exc), locking=False))

    def _port_ok(self) -> None:
        if self._port_down:
            self._port_down = False
            self._health = Health(HealthState.OK)
            log.info("%s: port back", self.name)
            self._emit(DeviceFaultCleared(self.name, "port"))
