"""DeviceManager: health per device, crash containment (a poll thread or a consumer raising),
reconnect after an unplug with backoff -- with fake drivers and over a real pty."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable

import pytest

from drivers.card_reader.em4100.driver import Em4100Driver
from drivers.card_reader.em4100.simulator import Em4100Simulator
from drivers.errors import PortError
from drivers.interfaces import (
    CardPresented,
    DeviceEvent,
    DeviceFault,
    DeviceFaultCleared,
    DeviceStatus,
    Health,
    HealthState,
)
from drivers.manager import DeviceManager, capped_backoff
from drivers.transport import LineSettings, open_port
from tests.conftest import wait_until

OK = Health(HealthState.OK)
FAST = {"check_interval": 0.02, "backoff": lambda n: 0.01}
#: for tests that call check() themselves: a re-open is due at the very next check, so no test
#: has to sleep past a backoff
NOW = {**FAST, "backoff": lambda n: 0.0}


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    return wait_until(cond, timeout=timeout, what=what)


def next_event(q: queue.Queue, match: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no matching event")
        try:
            ev = q.get(timeout=remaining)
        except queue.Empty:
            raise AssertionError("no matching event") from None
        if match(ev):
            return ev


class FakePort:
    def __init__(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False


class FakeDriver:
    """A poll thread that runs whatever is queued for it; an exception escapes the thread."""

    def __init__(self, name: str, health: Health = OK) -> None:
        self.name = name
        self.port = FakePort()
        self.stats = {"port_errors": 0}
        self._health = health
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.post: Any = None
        self.stopped = False

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        return (self._thread,) if self._thread is not None else ()

    def start(self, post: Any) -> None:
        self.post = post
        self._thread = threading.Thread(target=self._run, name=f"fake-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._jobs.get(timeout=0.02)
            except queue.Empty:
                continue
            job()  # not guarded: a bug here kills the thread, as in a broken driver

    def run(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def emit(self, event: DeviceEvent) -> None:
        self.run(lambda: self.post(event))

    def stop(self) -> None:
        self.stopped = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def health(self) -> Health:
        return self._health

    def unplug(self) -> None:
        """What a driver does when its port fails: counts it and reports a fault."""
        self.stats["port_errors"] += 1
        self._health = Health(HealthState.FAULT, "port: device disconnected")


class Opener:
    """Hands out fresh FakeDrivers; ``fail[name]`` failures first (the device still unplugged)."""

    def __init__(self, fail: dict[str, int] | None = None, health: dict[str, Health] | None = None):
        self.fail = dict(fail or {})
        self.health = health or {}
        self.made: dict[str, list[FakeDriver]] = {}
        self.calls: dict[str, int] = {}

    def __call__(self, name: str) -> FakeDriver:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.fail.get(name, 0) > 0:
            self.fail[name] -= 1
            raise PortError(f"cannot open /dev/tty-{name}: no such device")
        drv = FakeDriver(name, self.health.get(name, OK))
        self.made.setdefault(name, []).append(drv)
        return drv

    def current(self, name: str) -> FakeDriver:
        return self.made[name][-1]


@pytest.fixture
def managers():
    started: list[DeviceManager] = []

    def make(*args: Any, **kwargs: Any) -> DeviceManager:
        mgr = DeviceManager(*args, **kwargs)
        started.append(mgr)
        return mgr

    yield make
    for mgr in started:
        mgr.stop()


# ------------------------------------------------------------ health
def test_health_per_device_and_open_failure_is_fault_with_reason(managers):
    opener = Opener(fail={"printer": 1}, health={"coins": Health(HealthState.DEGRADED, "jam")})
    mgr = managers(["validator", "coins", "printer"], opener, post=lambda e: None,
                   reconnect=False)
    mgr.start(supervise=False)
    health = mgr.health()
    assert health["validator"] == OK
    assert health["coins"] == Health(HealthState.DEGRADED, "jam")
    assert health["printer"].state is HealthState.FAULT
    assert "/dev/tty-printer" in health["printer"].reason
    assert mgr.driver("printer") is None
    mgr.check()  # reconnect=False: a failed device is not retried
    assert opener.calls["printer"] == 1


def test_health_that_raises_is_that_devices_fault_only(managers):
    opener = Opener()
    mgr = managers(["a", "b"], opener, post=lambda e: None, reconnect=False)
    mgr.start(supervise=False)

    def broken() -> Health:
        raise ZeroDivisionError("bug in health")

    opener.current("a").health = broken  # type: ignore[method-assign]
    health = mgr.health()
    assert health["a"].state is HealthState.FAULT
    assert "ZeroDivisionError" in health["a"].reason
    assert health["b"] == OK


def test_any_exception_from_the_opener_is_reported_not_raised(managers):
    def opener(name: str) -> Any:
        if name == "bad":
            raise KeyError("protocol xyz")
        return FakeDriver(name)

    mgr = managers(["bad", "good"], opener, post=lambda e: None, reconnect=False)
    mgr.start(supervise=False)
    assert mgr.health_of("bad").state is HealthState.FAULT
    assert "KeyError" in mgr.health_of("bad").reason
    assert mgr.health_of("good") == OK


def test_passive_device_without_start_is_opened_reported_and_closed(managers):
    class Printer:
        def __init__(self) -> None:
            self.port = FakePort()

        def health(self) -> Health:
            return Health(HealthState.UNKNOWN, "printer not answering")

    printer = Printer()
    mgr = managers(["printer"], lambda name: printer, post=lambda e: None)
    mgr.start(supervise=False)
    assert mgr.health()["printer"] == Health(HealthState.UNKNOWN, "printer not answering")
    mgr.check()  # no thread to watch: nothing to re-open
    assert mgr.driver("printer") is printer
    mgr.stop()
    assert not printer.port.is_open
    assert mgr.health_of("printer").state is HealthState.FAULT


# ------------------------------------------------------------ crashes
def test_poll_thread_crash_faults_that_device_only_and_it_is_restarted(managers, monkeypatch):
    foreign: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", foreign.append)
    events: queue.Queue = queue.Queue()
    opener = Opener()
    mgr = managers(["bad", "good"], opener, events.put, check_interval=0.02,
                   backoff=lambda n: 0.3)
    mgr.start()
    bad, good = opener.current("bad"), opener.current("good")

    def boom() -> None:
        raise RuntimeError("boom in poll thread")

    bad.run(boom)
    health = wait_for(
        lambda: mgr.health_of("bad").state is HealthState.FAULT and mgr.health_of("bad"))
    assert "boom in poll thread" in health.reason
    fault = next_event(events, lambda e: isinstance(e, DeviceFault))
    assert (fault.device, fault.code) == ("bad", "driver")
    # The other device keeps running and delivering.
    good.emit(DeviceStatus("good", "still here"))
    assert next_event(events, lambda e: isinstance(e, DeviceStatus)).device == "good"
    assert mgr.health_of("good") == OK
    # The crashed driver was stopped, and a fresh one started after the backoff.
    assert bad.stopped and not bad.port.is_open
    next_event(events, lambda e: isinstance(e, DeviceFaultCleared) and e.device == "bad")
    assert len(opener.made["bad"]) == 2
    assert mgr.health_of("bad") == OK
    assert mgr.driver("bad") is opener.current("bad") is not bad
    assert foreign == []  # the manager claimed its thread's exception

    # Threads the manager does not watch still reach the hook that was there before.
    t = threading.Thread(target=boom)
    t.start()
    t.join()
    assert len(foreign) == 1 and foreign[0].thread is t


def test_thread_ending_without_exception_is_noticed_too(managers):
    class Quitter(FakeDriver):
        """Keeps its thread under another attribute name: found by name at start()."""

        def start(self, post: Any) -> None:
            self.post = post
            self.worker = threading.Thread(target=self._run, name=f"quitter-{self.name}",
                                           daemon=True)
            self.worker.start()

    made: list[Quitter] = []

    def opener(name: str) -> Quitter:
        made.append(Quitter(name))
        return made[-1]

    mgr = managers(["a"], opener, post=lambda e: None, reconnect=True, **NOW)
    mgr.start(supervise=False)
    made[0]._stop.set()  # the loop returns: no exception, but nothing polls any more
    made[0].worker.join(30)
    assert not made[0].worker.is_alive()
    mgr.check()
    assert mgr.health_of("a") == Health(HealthState.FAULT, "poll thread ended unexpectedly")
    mgr.check()
    assert len(made) == 2 and mgr.health_of("a") == OK


def test_consumer_raising_faults_that_device_and_loses_nothing_else(managers):
    got: list[DeviceEvent] = []

    def consumer(ev: DeviceEvent) -> None:
        if isinstance(ev, DeviceStatus) and ev.state == "poison":
            raise ValueError("consumer bug")
        got.append(ev)

    opener = Opener()
    mgr = managers(["a", "b"], opener, consumer, **FAST)
    mgr.start()
    a, b = opener.current("a"), opener.current("b")
    a.emit(DeviceStatus("a", "poison"))
    health = wait_for(lambda: mgr.health_of("a").state is HealthState.FAULT and mgr.health_of("a"))
    assert "DeviceStatus not delivered" in health.reason and "consumer bug" in health.reason
    # Both poll threads are alive and deliver; the driver was never told of the failure.
    a.emit(DeviceStatus("a", "after"))
    b.emit(DeviceStatus("b", "after"))
    wait_for(lambda: {(e.device, e.state) for e in got} >= {("a", "after"), ("b", "after")})
    assert mgr.health_of("b") == OK
    # Sticky: an event may have been lost, so it stays FAULT until staff clear it, however many
    # supervision passes run...
    passes = [0]
    check = mgr.check

    def counted_check() -> None:
        check()
        passes[0] += 1

    mgr.check = counted_check  # the supervisor thread calls self.check
    wait_for(lambda: passes[0] >= 5, what="five supervision passes")
    assert mgr.health_of("a").state is HealthState.FAULT
    assert len(opener.made["a"]) == 1  # ...and it is not a reason to re-open the port
    mgr.clear("a")
    assert mgr.health_of("a") == OK


def test_stop_raising_does_not_stop_the_rest(managers):
    opener = Opener()
    mgr = managers(["a", "b"], opener, post=lambda e: None, reconnect=False)
    mgr.start(supervise=False)
    a, b = opener.current("a"), opener.current("b")

    def bad_stop() -> None:
        raise OSError("stop failed")

    a.stop = bad_stop  # type: ignore[method-assign]
    mgr.stop()
    assert b.stopped and not b.port.is_open
    assert not a.port.is_open  # the port is still closed for it
    a._stop.set()


# ------------------------------------------------------------ reconnect
def test_unplug_reopens_with_backoff_after_failures(managers):
    delays: list[int] = []

    def backoff(attempts: int) -> float:
        delays.append(attempts)
        return 0.01

    events: queue.Queue = queue.Queue()
    opener = Opener()
    mgr = managers(["coins", "card"], opener, events.put, check_interval=0.02, backoff=backoff)
    mgr.start()
    first = opener.current("coins")
    opener.fail["coins"] = 3  # still unplugged for three attempts
    first.unplug()
    fault = next_event(events, lambda e: isinstance(e, DeviceFault))
    assert fault.device == "coins" and "disconnected" in fault.reason
    assert first.stopped and not first.port.is_open
    next_event(events, lambda e: isinstance(e, DeviceFaultCleared) and e.device == "coins")
    assert opener.calls["coins"] == 1 + 4  # the first open, three failures, the replug
    assert delays[:4] == [0, 0, 1, 2]  # first wait, then one per failed attempt, growing
    assert mgr.health_of("coins") == OK
    assert opener.calls["card"] == 1  # the other device was never touched
    assert not opener.current("card").stopped


def test_health_while_reconnecting_names_the_open_error(managers):
    opener = Opener()
    mgr = managers(["coins"], opener, post=lambda e: None, check_interval=0.02,
                   backoff=lambda n: 0.05)
    mgr.start()
    opener.fail["coins"] = 1000
    opener.current("coins").unplug()
    wait_for(lambda: "no such device" in mgr.health_of("coins").reason, what="open error")
    assert mgr.health_of("coins").state is HealthState.FAULT
    opener.fail["coins"] = 0
    wait_for(lambda: mgr.health_of("coins") == OK, what="replug")


def test_port_error_the_driver_recovered_from_is_left_alone(managers):
    opener = Opener()
    mgr = managers(["coins"], opener, post=lambda e: None, reconnect=True, **NOW)
    mgr.start(supervise=False)
    drv = opener.current("coins")
    drv.stats["port_errors"] += 1  # one failed write, retried successfully: health stays OK
    mgr.check()
    assert mgr.driver("coins") is drv
    drv.port.close()  # the port is gone for good
    mgr.check()
    assert mgr.driver("coins") is None and drv.stopped
    assert mgr.health_of("coins") == Health(HealthState.FAULT, "port closed")
    mgr.check()
    assert mgr.driver("coins") is opener.current("coins") is not drv


def test_device_missing_at_start_is_opened_when_plugged_in(managers):
    opener = Opener(fail={"card": 2})
    mgr = managers(["card"], opener, post=lambda e: None, **FAST)
    mgr.start()
    wait_for(lambda: mgr.health_of("card") == OK, what="late plug-in")
    assert opener.calls["card"] == 3


def test_handle_follows_reconnects(managers):
    opener = Opener()
    mgr = managers(["coins"], opener, post=lambda e: None, reconnect=True, **NOW)
    mgr.start(supervise=False)
    handle = mgr.handle("coins")
    assert handle.name == "coins" and handle.stats is opener.current("coins").stats
    opener.fail["coins"] = 1
    opener.current("coins").unplug()
    mgr.check()
    assert handle.health().state is HealthState.FAULT
    with pytest.raises(PortError):
        handle.stats  # noqa: B018 - no driver: commands fail loudly, not silently
    mgr.check()  # fails once more
    mgr.check()
    assert handle.stats is opener.current("coins").stats and handle.health() == OK


def test_capped_backoff_grows_to_the_cap():
    b = capped_backoff(base=0.5, factor=2, cap=5)
    assert [b(n) for n in range(6)] == [0.5, 1, 2, 4, 5, 5]


# ------------------------------------------------------------ real pty: unplug and replug
def test_real_reader_unplugged_and_replugged(managers, tmp_path):
    sims: list[Em4100Simulator] = []
    ports: list[Any] = []

    def opener(name: str) -> Em4100Driver:
        sim = Em4100Simulator(state_path=tmp_path / f"card{len(sims)}.json")
        path = sim.start_on_pty()
        sims.append(sim)
        port = open_port(path, LineSettings())
        ports.append(port)
        return Em4100Driver(name, port, removal_timeout=0.3)

    events: queue.Queue = queue.Queue()
    mgr = managers(["card_reader"], opener, events.put, check_interval=0.05,
                   backoff=lambda n: 0.05)
    try:
        mgr.start()
        assert mgr.health_of("card_reader") == OK
        sims[0].command("present 0102030405")
        next_event(events, lambda e: isinstance(e, CardPresented))
        sims[0].stop()  # the cable is pulled: the pty goes away under the driver
        fault = next_event(events, lambda e: isinstance(e, DeviceFault) and e.code == "driver")
        assert "port" in fault.reason
        next_event(events, lambda e: isinstance(e, DeviceFaultCleared) and e.code == "driver")
        assert len(sims) == 2 and not ports[0].is_open  # the dead port was closed, not leaked
        assert mgr.health_of("card_reader") == OK
        sims[1].command("present 0A0B0C0D0E")
        ev = next_event(events, lambda e: isinstance(e, CardPresented))
        assert ev.card_uid == "0A0B0C0D0E"
    finally:
        mgr.stop()
        for sim in sims:
            sim.stop()
