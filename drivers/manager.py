"""Owns the started drivers: health per device, reconnect after an unplug, crash containment.

Each driver runs its own poll thread.  The manager hands it a guarded ``post`` (an exception in
the consumer is logged and marks that device FAULT instead of reaching the driver), notices a
poll thread that died or a port that failed, and has a supervisor thread stop the driver and open
a fresh one through the injected ``opener`` with capped exponential backoff.  One device's
trouble never touches another's.  Drivers without ``start`` (the receipt printer, asked for its
status on demand) are only opened, closed and reported.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from drivers.errors import PortError
from drivers.interfaces import (
    DeviceEvent,
    DeviceFault,
    DeviceFaultCleared,
    Health,
    HealthState,
    Post,
)

log = logging.getLogger(__name__)

#: name → a newly opened (not started) driver; raises when the device cannot be opened.
Opener = Callable[[str], Any]
#: failed attempts so far → seconds to wait before the next attempt
Backoff = Callable[[int], float]

MANAGER_FAULT = "driver"  # DeviceFault.code the manager posts for crashes and lost ports


def capped_backoff(base: float = 0.5, factor: float = 2.0, cap: float = 30.0) -> Backoff:
    """0.5, 1, 2, 4 ... up to 30 s: an unplugged device is retried without busy-looping."""
    return lambda attempts: min(cap, base * factor ** attempts)


# ------------------------------------------------------------ threads that die with an exception
# threading.excepthook is process-wide; the manager only claims the poll threads it watches and
# passes every other thread to whatever hook was there before.
_watched: weakref.WeakKeyDictionary[threading.Thread, Callable[[BaseException | None], None]] = (
    weakref.WeakKeyDictionary()
)
_previous_hook = threading.excepthook


def _crash_hook(args: threading.ExceptHookArgs) -> None:
    callback = _watched.pop(args.thread, None) if args.thread is not None else None
    if callback is None:
        _previous_hook(args)
        return
    callback(args.exc_value)


def _install_crash_hook() -> None:
    global _previous_hook
    if threading.excepthook is not _crash_hook:
        _previous_hook = threading.excepthook
        threading.excepthook = _crash_hook


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _port_errors(driver: Any) -> int:
    stats = getattr(driver, "stats", None)  # the drivers here count port errors in ``stats``
    return stats.get("port_errors", 0) if isinstance(stats, dict) else 0


@dataclass
class _Slot:
    name: str
    driver: Any = None
    error: str = "not opened"  # why there is no driver (open failed, crashed, port lost)
    crash: str | None = None  # the poll thread died: set from its thread
    post_failure: str | None = None  # sticky until clear(): an event may have been lost
    running: bool = False
    threads: list[threading.Thread] = field(default_factory=list)
    port_errors_seen: int = 0
    fault_posted: bool = False  # the manager told the consumer this device was lost
    attempts: int = 0
    next_try: float = 0.0


class DeviceManager:
    """``DeviceManager(names, opener, post)``; ``start()`` opens and starts every device (a
    device that cannot be opened is FAULT with the reason and retried by the supervisor),
    ``health()`` reports each one, ``handle(name)`` is a stable stand-in for the current driver,
    ``stop()`` stops everything."""

    def __init__(
        self,
        names: Iterable[str],
        opener: Opener,
        post: Post,
        *,
        check_interval: float = 0.5,
        backoff: Backoff | None = None,
        reconnect: bool = True,
    ) -> None:
        self.opener = opener
        self.post = post
        self.check_interval = check_interval
        self.backoff = backoff or capped_backoff()
        self.reconnect = reconnect
        self._slots = {name: _Slot(name) for name in names}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None

    # ------------------------------------------------------------ life cycle
    def start(self, supervise: bool = True) -> None:
        _install_crash_hook()
        self._stop.clear()
        for slot in self._slots.values():
            self._open(slot, time.monotonic())
        if supervise:
            self._supervisor = threading.Thread(target=self._supervise, name="device-manager",
                                                daemon=True)
            self._supervisor.start()

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
            self._supervisor = None
        for slot in self._slots.values():
            with self._lock:
                driver, slot.driver, slot.running = slot.driver, None, False
                slot.error = "stopped"
            if driver is not None:
                self._shutdown(slot.name, driver, slot.threads)

    # ------------------------------------------------------------ queries (any thread)
    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def driver(self, name: str) -> Any:
        """The current driver of ``name`` (changes after a reconnect), or None."""
        return self._slots[name].driver

    def handle(self, name: str) -> DeviceHandle:
        return DeviceHandle(self, name)

    def health(self) -> dict[str, Health]:
        return {name: self.health_of(name) for name in self._slots}

    def health_of(self, name: str) -> Health:
        slot = self._slots[name]
        with self._lock:
            driver, crash, failure, error = slot.driver, slot.crash, slot.post_failure, slot.error
        if crash is not None:
            return Health(HealthState.FAULT, f"driver crashed: {crash}")
        if failure is not None:
            return Health(HealthState.FAULT, failure)
        if driver is None:
            return Health(HealthState.FAULT, error)
        try:
            return driver.health()
        except Exception as exc:  # a broken health() is that device's fault, not the caller's
            log.exception("%s: health check failed", name)
            return Health(HealthState.FAULT, f"health check failed: {_describe(exc)}")

    def clear(self, name: str) -> None:
        """Staff acknowledge a failed event delivery (the device's FAULT from the post wrapper)."""
        with self._lock:
            self._slots[name].post_failure = None

    # ------------------------------------------------------------ supervision
    def check(self) -> None:
        """One supervision pass; the supervisor thread runs it every ``check_interval``."""
        now = time.monotonic()
        for slot in self._slots.values():
            try:
                if slot.driver is None:
                    if self.reconnect and now >= slot.next_try and not self._stop.is_set():
                        self._open(slot, now)
                elif slot.running:
                    why = self._trouble(slot)
                    if why is not None and self.reconnect:
                        self._drop(slot, why, now)
            except Exception:  # the supervisor is the last line: it must outlive any device
                log.exception("%s: supervision failed", slot.name)

    def _supervise(self) -> None:
        while not self._stop.wait(self.check_interval):
            self.check()

    def _trouble(self, slot: _Slot) -> str | None:
        """Why this running driver must be re-opened, or None."""
        if slot.crash is not None:
            return f"driver crashed: {slot.crash}"
        if slot.threads and not any(t.is_alive() for t in slot.threads):
            return "poll thread ended unexpectedly"
        driver = slot.driver
        port = getattr(driver, "port", None)
        if port is not None and getattr(port, "is_open", True) is False:
            return "port closed"
        errors = _port_errors(driver)
        grew, slot.port_errors_seen = errors > slot.port_errors_seen, errors
        if grew:
            health = self.health_of(slot.name)
            # A port error the driver recovered from by itself (a retry) needs nothing.
            if health.state is HealthState.FAULT:
                return f"port error: {health.reason}"
        return None

    def _drop(self, slot: _Slot, why: str, now: float) -> None:
        log.warning("%s: %s; re-opening", slot.name, why)
        with self._lock:
            driver, slot.driver, slot.running = slot.driver, None, False
            threads, slot.threads = slot.threads, []
            slot.error, slot.crash, slot.fault_posted = why, None, True
            slot.attempts = 0
            slot.next_try = now + self.backoff(0)
        self._shutdown(slot.name, driver, threads)
        self._post_safely(DeviceFault(slot.name, MANAGER_FAULT, why, locking=False))

    def _open(self, slot: _Slot, now: float) -> None:
        try:
            driver = self.opener(slot.name)
        except Exception as exc:  # any failure to open is this device's, reported, retried
            with self._lock:
                slot.error = str(exc) if isinstance(exc, PortError) else _describe(exc)
                slot.next_try = now + self.backoff(slot.attempts)
                slot.attempts += 1
            log.warning("%s: cannot open (attempt %d): %s", slot.name, slot.attempts, slot.error)
            return
        try:
            threads = self._start(slot, driver)
        except Exception as exc:
            log.exception("%s: start failed", slot.name)
            self._shutdown(slot.name, driver, [])
            with self._lock:
                slot.error = f"start failed: {_describe(exc)}"
                slot.next_try = now + self.backoff(slot.attempts)
                slot.attempts += 1
            return
        with self._lock:
            slot.driver, slot.threads, slot.running = driver, threads, True
            slot.error, slot.crash, slot.attempts = "", None, 0
            slot.port_errors_seen = _port_errors(driver)
            cleared, slot.fault_posted = slot.fault_posted, False
        if cleared:
            log.info("%s: re-opened", slot.name)
            self._post_safely(DeviceFaultCleared(slot.name, MANAGER_FAULT))

    def _start(self, slot: _Slot, driver: Any) -> list[threading.Thread]:
        if not callable(getattr(driver, "start", None)):
            return []  # passive device (printer): nothing runs on its own
        before = set(threading.enumerate())
        driver.start(self._guarded_post(slot.name))
        # A driver names its threads (drivers/interfaces.py: Driver.threads); one that does not
        # is matched by the threads that appeared during start() and carry its name.
        own = getattr(driver, "threads", None)
        if isinstance(own, tuple) and own:
            threads = list(own)
        else:
            threads = [t for t in threading.enumerate() if t not in before and slot.name in t.name]
        for thread in threads:
            _watched[thread] = lambda exc, s=slot, d=driver: self._thread_crashed(s, d, exc)
        return threads

    def _thread_crashed(self, slot: _Slot, driver: Any, exc: BaseException | None) -> None:
        log.error("%s: poll thread crashed", slot.name,
                  exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None)
        with self._lock:
            if slot.driver is driver:
                slot.crash = _describe(exc)

    def _guarded_post(self, name: str) -> Post:
        slot = self._slots[name]

        def post(event: DeviceEvent) -> None:
            try:
                self.post(event)
            except Exception as exc:
                # The event type only: card ids must not reach the log unmasked.
                log.exception("%s: consumer failed on %s", name, type(event).__name__)
                with self._lock:
                    slot.post_failure = (f"event {type(event).__name__} not delivered: "
                                         f"{_describe(exc)}")

        return post

    def _post_safely(self, event: DeviceEvent) -> None:
        try:
            self.post(event)
        except Exception:
            log.exception("%s: consumer failed on %s", event.device, type(event).__name__)

    def _shutdown(self, name: str, driver: Any, threads: list[threading.Thread]) -> None:
        """Stop a driver and close its port; nothing here may raise."""
        for thread in threads:
            _watched.pop(thread, None)
        stop = getattr(driver, "stop", None)
        if callable(stop):
            try:
                stop()
            except Exception:
                log.exception("%s: stop failed", name)
        # Not every driver closes the port it was given; a re-open must not leak descriptors.
        port = getattr(driver, "port", None)
        try:
            if port is not None and getattr(port, "is_open", False):
                port.close()
        except Exception:
            log.exception("%s: closing the port failed", name)


class DeviceHandle:
    """Stands in for the current driver of one device, so holders (the session runner) keep
    working across reconnects.  ``health()`` is the manager's view (a missing or crashed driver
    is FAULT); any other attribute is the current driver's, or PortError while there is none."""

    def __init__(self, manager: DeviceManager, name: str) -> None:
        self._manager = manager
        self.name = name

    def health(self) -> Health:
        return self._manager.health_of(self.name)

    def __getattr__(self, attr: str) -> Any:
        driver = self._manager.driver(self.name)
        if driver is None:
            raise PortError(f"{self.name}: not connected")
        return getattr(driver, attr)
