"""The lifecycle of a driver that runs one thread of its own on a serial port (the card readers and
the barcode scanner): start with the callback the thread posts to, stop and join, the thread for
the device manager to watch, health. The thread only reads the device and posts events; what the
events mean is decided on the deciding thread (docs/architecture.md, the one-thread rule).

A subclass sets ``name``, ``port`` and ``owns_port``, calls ``ReaderThread.__init__`` and
implements ``_run`` (looping until ``self._stop`` is set); ``THREAD_PREFIX`` names its thread and
``READ_TIMEOUT`` bounds a read, so ``stop`` is noticed within one."""

from __future__ import annotations

import logging
import threading
from typing import Any

from drivers.interfaces import DeviceEvent, Health, HealthState, Post

log = logging.getLogger(__name__)


class ReaderThread:
    THREAD_PREFIX = "reader"
    #: the longest a read may block: how late ``stop`` (and any timing the thread keeps) is seen
    READ_TIMEOUT = 0.05
    #: the timeout set on a port whose own is longer (or none)
    SET_TIMEOUT = 0.05

    name: str
    port: Any
    owns_port: bool

    def __init__(self) -> None:
        self._health = Health(HealthState.UNKNOWN, "not started")
        self._post: Post | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, post: Post) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"{self.name}: already started")
        if getattr(self.port, "timeout", None) is None or self.port.timeout > self.READ_TIMEOUT:
            self.port.timeout = self.SET_TIMEOUT
        self._post = post
        self._stop.clear()
        self._started()
        self._thread = threading.Thread(target=self._run, name=f"{self.THREAD_PREFIX}-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._health = Health(HealthState.UNKNOWN, "stopped")
        if self.owns_port:
            try:
                self.port.close()
            except Exception:  # closing a dead port must not stop the shutdown
                log.debug("%s: closing the port failed", self.name, exc_info=True)

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The read thread while started (the device manager watches it for a crash)."""
        return (self._thread,) if self._thread is not None else ()

    def health(self) -> Health:
        return self._health

    def _started(self) -> None:
        """Just before the thread starts: a device that talks unprompted is healthy until its
        port says otherwise (a polled one overrides this and waits for its first answer)."""
        self._health = Health(HealthState.OK)

    def _emit(self, event: DeviceEvent) -> None:
        if self._post is not None:
            self._post(event)

    def _run(self) -> None:
        raise NotImplementedError
