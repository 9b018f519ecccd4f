"""Staff work off the UI thread: one worker thread with its own database connection and its own
``StaffConsole``, and a tap on the device events for the self-tests.

A PIN check costs about 0.6 s of CPU at the production scrypt cost, diagnostics ask the printer
and the billing API, self-tests wait for a note or a card: none of that may freeze the screen.
Jobs run one at a time in order; each one's result (or exception) comes back on the UI thread
through the Kivy clock.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from typing import Any, Callable

from kivy.clock import Clock

log = logging.getLogger(__name__)

Job = Callable[["StaffWorker"], Any]


class EventTap:
    """Device events seen by the app, offered to a self-test waiting on the worker thread."""

    def __init__(self, capacity: int = 200) -> None:
        self._events: deque[tuple[int, Any]] = deque(maxlen=capacity)
        self._n = 0
        self._since = 0
        self._cond = threading.Condition()

    def offer(self, ev: Any) -> None:
        with self._cond:
            self._n += 1
            self._events.append((self._n, ev))
            self._cond.notify_all()

    def begin(self) -> None:
        """Only events from now on count for the next ``wait_event``."""
        with self._cond:
            self._since = self._n

    def wait_event(self, match: Callable[[Any], bool], timeout: float) -> Any | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for n, ev in self._events:
                    if n > self._since and match(ev):
                        self._since = n
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)


def make_console(terminal: Any, db: Any) -> Any:
    """A console like the terminal's (same devices, params, policy), on connection ``db``."""
    from kiosk.staff.console import StaffConsole
    from offline_queue.journal import Journal

    base, cfg = terminal.staff, terminal.config
    return StaffConsole(
        db, cfg, Journal(db, cfg.kiosk.id), db_path=cfg.kiosk.db, params=base.auth.params,
        policy=base.auth.policy, idle_timeout_s=base.auth.idle_timeout_s,
        printer=terminal.devices.printer, post=terminal.events.post,
        counters=base.collections.counters, device_health=base.device_health)


class StaffWorker:
    def __init__(self, terminal: Any) -> None:
        self.terminal = terminal
        self.tap = EventTap()
        self.console: Any = None
        self.db: Any = None
        self._jobs: queue.Queue[tuple[Job, Callable[[Any], None],
                                      Callable[[BaseException], None]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.pending = 0  # jobs submitted and not yet answered (UI thread only)

    def _ensure(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="staff-worker", daemon=True)
            self._thread.start()

    def submit(self, job: Job, done: Callable[[Any], None],
               failed: Callable[[BaseException], None]) -> None:
        """Run ``job(worker)`` on the worker thread; ``done(result)`` or ``failed(exc)`` on the UI
        thread afterwards."""
        self._ensure()
        self.pending += 1
        self._jobs.put((job, done, failed))

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                break
            job, done, failed = item
            try:
                if self.console is None:
                    from offline_queue.schema import connect

                    self.db = connect(self.terminal.config.kiosk.db)  # a connection per thread
                    self.console = make_console(self.terminal, self.db)
                result = job(self)
            except Exception as exc:  # staff errors are expected; anything else is logged
                if not hasattr(exc, "code"):
                    log.exception("staff job failed")
                Clock.schedule_once(lambda _dt, f=failed, x=exc: self._answer(f, x), 0)
            else:
                Clock.schedule_once(lambda _dt, f=done, r=result: self._answer(f, r), 0)
        if self.db is not None:
            self.db.conn.close()

    def _answer(self, callback: Callable[[Any], None], value: Any) -> None:
        self.pending -= 1
        callback(value)

    def close(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout)
            self._thread = None


class Heartbeat:
    """The heartbeat (device health, queue depth, the audit chain's head) sent from one thread
    of its own — which owns the heartbeat's database connection — whenever the Kivy clock calls
    ``tick``; a tick while one is being sent is skipped, a failure only logged."""

    def __init__(self, terminal: Any) -> None:
        self.terminal = terminal
        self.sent = 0
        self._service: Any = None
        self._busy = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, _dt: float = 0.0) -> None:
        if self._busy.is_set() or getattr(self.terminal, "staff", None) is None:
            return
        self._busy.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
            self._thread.start()
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                break
            self._send()
        if self._service is not None:
            self._service.outbox.db.conn.close()

    def _send(self) -> None:
        try:
            if self._service is None:
                from kiosk.services.identity import signed
                from kiosk.staff.wiring import heartbeat_service

                cfg = self.terminal.config
                self._service = heartbeat_service(self.terminal, lambda c: signed(c, cfg))
            if self._service.send_once():
                self.sent += 1
        except Exception:  # a heartbeat is best effort: the next one carries the news
            log.exception("heartbeat failed")
        finally:
            self._busy.clear()
