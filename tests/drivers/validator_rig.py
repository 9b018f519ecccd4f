"""The test rig the three bill-validator protocols share: a simulator on a real pty, a driver on
its own port as the terminal builds one, the event recorder, and what differs per protocol
(:class:`Kind`).  test_validator_common.py runs the common behaviours once per protocol; each
protocol's own tests build their fixtures from here too.  Every wait is a condition with a
deadline."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import serial

from drivers.bill_validator.ccnet import protocol as ccnet_p
from drivers.bill_validator.ccnet.driver import CcnetDriver
from drivers.bill_validator.ccnet.simulator import CcnetSimulator
from drivers.bill_validator.essp import protocol as essp_p
from drivers.bill_validator.essp.driver import EsspDriver
from drivers.bill_validator.essp.simulator import CNY_CHANNELS, EsspSimulator
from drivers.bill_validator.id003 import protocol as id003_p
from drivers.bill_validator.id003.driver import Id003Driver
from drivers.bill_validator.id003.simulator import Id003Simulator
from drivers.interfaces import ChannelMap, DeviceEvent, NoteEscrowed, PowerUp
from drivers.line import LineSettings
from drivers.transport import open_port
from tests.conftest import wait_until

FAST = {"poll_interval": 0.02, "reply_timeout": 0.15, "retries": 2}


class Events:
    """The post callable: records every event, in order, and lets a test wait for one."""

    def __init__(self) -> None:
        self.log: list[DeviceEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: DeviceEvent) -> None:
        with self._cond:
            self.log.append(event)
            self._cond.notify_all()

    def of(self, kind: type, **attrs: Any) -> list[DeviceEvent]:
        with self._cond:
            return [e for e in self.log if isinstance(e, kind)
                    and all(getattr(e, k) == v for k, v in attrs.items())]

    def wait(self, kind: type, count: int = 1, timeout: float = 30.0, **attrs: Any) -> Any:
        """The ``count``-th event of ``kind`` (with ``attrs``), waiting up to ``timeout``, which
        only bounds a hang (a loaded machine is slow, not wrong; tests/conftest.py)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(found := self.of(kind, **attrs)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind.__name__} #{count} {attrs}; saw {self.log}")
                self._cond.wait(left)
            return found[count - 1]


def wait_polls(driver: Any, n: int = 3) -> None:
    """Let the driver complete ``n`` more status polls (repeats must not re-post events)."""
    target = driver.stats["polls"] + n
    wait_until(lambda: driver.stats["polls"] >= target, what=f"{n} polls")


class FakeClock:
    """A simulator's clock (CCNET's escrow period), moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class Id003Host:
    """Drives an ID-003 simulator with raw frames (to leave it in a given state for a power
    cut)."""

    def __init__(self, path: str) -> None:
        self.port = serial.serial_for_url(path, baudrate=9600, parity="E", timeout=0.5)

    def ask(self, cmd: int, data: bytes = b"") -> id003_p.Frame:
        self.port.write(id003_p.encode(cmd, data))
        head = self.port.read(2)
        return id003_p.decode(head + self.port.read(head[1] - 2))

    def close(self) -> None:
        self.port.close()


class CcnetHost:
    """Drives a CCNET simulator with raw frames, ACKing each data answer unless told not to."""

    def __init__(self, path: str) -> None:
        self.port = serial.serial_for_url(path, baudrate=9600, timeout=0.5)

    def ask(self, cmd: int, data: bytes = b"", ack: bool = True) -> ccnet_p.Frame:
        self.port.write(ccnet_p.encode(cmd, data))
        head = self.port.read(3)
        frame = ccnet_p.decode(head + self.port.read(head[2] - 3))
        if ack and frame.cmd != ccnet_p.ACK:
            self.port.write(ccnet_p.encode(ccnet_p.ACK))
        return frame

    def close(self) -> None:
        self.port.close()


def leave_id003_note(sim: Any, stage: str) -> None:
    """A host takes a 10-yuan note to escrow ("stacker": and sends it on; "credit": up to VEND
    VALID, never ACKed), then goes away."""
    p = id003_p
    host = Id003Host(sim.port_path)
    host.ask(p.RESET)
    host.ask(p.SET_INHIBIT, b"\x00")
    sim.command("insert 10")
    statuses = [host.ask(p.STATUS_REQUEST).cmd for _ in range(3)]
    assert statuses == [p.INITIALIZE, p.ACCEPTING, p.ESCROW]
    if stage in ("stacker", "credit"):
        host.ask(p.STACK_1)
        assert host.ask(p.STATUS_REQUEST).cmd == p.STACKING
    if stage == "credit":
        assert host.ask(p.STATUS_REQUEST).cmd == p.VEND_VALID
    host.close()


def leave_ccnet_bill(sim: Any, stage: str) -> None:
    """A host takes a 10-yuan bill to escrow ("stacker": and sends it on; "credit": up to BILL
    STACKED, never ACKed), then goes away."""
    p = ccnet_p
    host = CcnetHost(sim.port_path)
    host.ask(p.POLL)
    host.ask(p.RESET)
    host.ask(p.ENABLE_BILL_TYPES, p.bill_mask({2}) * 2)
    sim.command("insert 10")
    assert [host.ask(p.POLL).cmd for _ in range(3)] == [p.INITIALIZE, p.ACCEPTING,
                                                        p.ESCROW_POSITION]
    if stage in ("stacker", "credit"):
        host.ask(p.STACK)
    if stage == "credit":
        assert host.ask(p.POLL).cmd == p.STACKING
        assert host.ask(p.POLL, ack=False).cmd == p.BILL_STACKED
    host.close()


@dataclass(frozen=True)
class Kind:
    """What the common tests need to know about one protocol."""

    name: str  # the registry entry
    simulator: Callable[..., Any]  # (state_path=..., **options) -> a simulator, not started
    driver: Callable[..., Any]  # (name, port, channels, **options) -> a driver
    channels: Callable[[], ChannelMap]
    line: LineSettings
    wrong_line: LineSettings  # a port opened like this is corrected by the driver
    channel_of_10_yuan: int
    escrow_stage: str  # the simulator's stage while the host decides
    refusing: Callable[[Any], bool]  # the unit takes no note (what stop() leaves it as)
    #: bench word -> (fault code, part of its reason)
    faults: dict[str, tuple[str, str]]
    noise: str  # a damaged money frame, as ``noise`` hex
    wire_clean: Callable[[Any], bool] = field(default=lambda sim: True)
    #: simulator options of the common tests (CCNET: an escrow clock nobody moves)
    sim_options: Callable[[], dict[str, Any]] = field(default=dict)
    #: (sim, stage) leaves a note in the path or the stacker with the host gone, for units that
    #: keep it there over a power cut (eSSP clears it itself: its own tests)
    leave_note: Callable[[Any, str], None] | None = None

    @property
    def values(self) -> frozenset[int]:
        return frozenset(self.channels().values.values())


KINDS = {
    "id003": Kind(
        "id003", Id003Simulator, Id003Driver, id003_p.cny_channels, id003_p.LINE,
        LineSettings(), 0x63, "escrow", lambda sim: "inhibit=on" in sim.status_line(),
        {"jam": ("acceptor_jam", "jammed in the acceptor"),
         "stacker-jam": ("stacker_jam", "jammed in the stacker"),
         "stacker-full": ("stacker_full", "full"),
         "cheat": ("cheated", "cheating")},
        "FC 05 15 03", leave_note=leave_id003_note),  # the noise: a VEND VALID cut short
    "ccnet": Kind(
        "ccnet", CcnetSimulator, CcnetDriver, ccnet_p.cny_channels, ccnet_p.LINE,
        LineSettings(parity=serial.PARITY_EVEN), 2, "escrow",
        lambda sim: "inhibit=on" in sim.status_line(),
        {"jam": ("acceptor_jam", "jammed in the validator"),
         "stacker-jam": ("stacker_jam", "drop cassette"),
         "stacker-full": ("stacker_full", "full"),
         "cheat": ("cheated", "cheating")},
        "02 03 07 81 03 00 00 ff 02 03",  # a BILL STACKED with a bad CRC
        wire_clean=lambda sim: sim.unacked == 0, sim_options=lambda: {"clock": FakeClock()},
        leave_note=leave_ccnet_bill),
    "essp": Kind(
        "essp", EsspSimulator, EsspDriver, lambda: ChannelMap(dict(CNY_CHANNELS)),
        essp_p.LINE,
        LineSettings(), 3, "escrow_wait", lambda sim: "enabled=off" in sim.status_line(),
        {"jam": ("acceptor_jam", "unsafe jam"),
         "stacker-jam": ("stacker_jam", "safe jam"),
         "stacker-full": ("stacker_full", "full"),
         "cheat": ("cheated", "fraud")},
        "7F 80 03 F0 EE 03 00 00 7F 55 7F"),  # a NOTE CREDIT with bad stuffing and CRC
}


def serve(kind: Kind, state_path: Path, **options: Any) -> Iterator[Any]:
    """Body of a ``sim`` fixture: the kind's simulator on a fresh pty, stopped afterwards."""
    simulator = kind.simulator(state_path=state_path, **options)
    simulator.start_on_pty()
    try:
        yield simulator
    finally:
        simulator.stop()


def open_driver(kind: Kind, path: str, **options: Any) -> Any:
    """A driver on its own port with the protocol's line (closed by ``stop()``)."""
    return kind.driver("bv", open_port(path, kind.line), kind.channels(), owns_port=True,
                       **options)


def driver_maker(kind: Kind) -> Iterator[Callable[..., Any]]:
    """Body of a ``make_driver`` fixture: ``make(sim, events=None, **options)``; a driver
    given ``events`` is started, and every started one is stopped afterwards."""
    started: list[Any] = []

    def make(simulator: Any, events: Events | None = None, **options: Any) -> Any:
        driver = open_driver(kind, simulator.port_path, **{**FAST, **options})
        if events is not None:
            driver.start(events)
            started.append(driver)
        return driver

    try:
        yield make
    finally:
        for driver in started:
            driver.stop()


def start_running(kind: Kind, sim: Any, make_driver: Callable[..., Any]
                  ) -> tuple[Any, Any, Events]:
    """A started driver past its power-up sequence, accepting every CNY note."""
    events = Events()
    driver = make_driver(sim, events)
    events.wait(PowerUp, condition="normal")
    driver.enable(kind.values)
    wait_until(lambda: sim.ready_for_note, what="acceptance enabled")
    return sim, driver, events


def validator_fixtures(kind: Kind) -> tuple[Any, Any, Any]:
    """The ``sim``, ``make_driver`` and ``running`` fixtures of one protocol's test module:
    ``sim, make_driver, running = validator_fixtures(KINDS["id003"])``."""

    @pytest.fixture
    def sim(tmp_path: Path) -> Iterator[Any]:
        yield from serve(kind, tmp_path / "bv.json", **kind.sim_options())

    @pytest.fixture
    def make_driver() -> Iterator[Callable[..., Any]]:
        yield from driver_maker(kind)

    @pytest.fixture
    def running(sim: Any, make_driver: Callable[..., Any]) -> tuple[Any, Any, Events]:
        """A started driver past its power-up sequence, accepting every CNY note."""
        return start_running(kind, sim, make_driver)

    return sim, make_driver, running


def insert_and_escrow(sim: Any, events: Events, yuan: int, count: int = 1) -> Any:
    assert sim.command(f"insert {yuan}") == f"ok: inserted {yuan} yuan"
    return events.wait(NoteEscrowed, count=count, denomination_minor=yuan * 100)
