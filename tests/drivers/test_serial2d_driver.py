"""The serial 2D scanner driver against its simulator over a real pty: bill codes and payment
codes are one CodeScanned each; garbage, partial lines and over-long codes are none (counted);
the same code again within the debounce window is none; the trigger mode is set at start; a
port that drops is a fault, and the device manager reopens the scanner."""

from __future__ import annotations

import logging
import queue
from pathlib import Path
from typing import Any

import pytest

from drivers.interfaces import CodeScanned, DeviceEvent, DeviceFault, HealthState, Scanner
from drivers.manager import DeviceManager
from drivers.scanner.serial2d import protocol as p
from drivers.scanner.serial2d.driver import Serial2dDriver
from drivers.scanner.serial2d.simulator import Serial2dSimulator
from drivers.transport import open_port
from tests.conftest import wait_until
from tests.drivers.collect import CollectsEvents

BILL = "DF3101000010202611"
PAY = "134567890123456789"


class Clock:
    """The driver's clock, moved by the test: the debounce window is not waited out."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig(CollectsEvents):
    def __init__(self, tmp_path: Path, framing: p.Framing = p.Framing(), trigger: str = "keep",
                 debounce_ms: int = 1500, sim_mode: str = "3", clock: Any = None) -> None:
        self.sim = Serial2dSimulator(tmp_path / "scanner.json", framing.prefix, framing.suffix,
                                     framing.aim, trigger_mode=sim_mode)
        self.port = open_port(self.sim.start_on_pty(), p.LINE)
        self.q: queue.Queue[DeviceEvent] = queue.Queue()
        self.seen: list[DeviceEvent] = []
        kwargs = {"clock": clock} if clock is not None else {}
        self.driver = Serial2dDriver("scanner", self.port, framing, debounce_ms=debounce_ms,
                                     trigger=trigger, **kwargs)
        self.driver.start(self.q.put)

    def codes(self) -> list[str]:
        while True:
            try:
                self.seen.append(self.q.get_nowait())
            except queue.Empty:
                break
        return [e.text for e in self.seen if isinstance(e, CodeScanned)]

    def scan_marker(self, text: str = "MARKER") -> None:
        """A clean code after the faults under test: once it is seen, every byte before it was."""
        self.sim.command(f"scan {text}")
        self.wait_for(lambda e: isinstance(e, CodeScanned) and e.text == text)

    def close(self) -> None:
        self.driver.stop()
        self.port.close()
        self.sim.stop()


@pytest.fixture
def rig(tmp_path: Path):
    r = Rig(tmp_path)
    yield r
    r.close()


def test_the_driver_is_a_scanner(rig: Rig) -> None:
    assert isinstance(rig.driver, Scanner)
    assert rig.driver.health().state == HealthState.OK


def test_a_bill_and_a_payment_code_are_one_event_each(rig: Rig) -> None:
    rig.sim.command(f"scan {BILL}")
    ev: Any = rig.wait_for(lambda e: isinstance(e, CodeScanned))
    assert ev == CodeScanned("scanner", BILL, "")
    rig.sim.command("crlf on")
    rig.sim.command(f"scan {PAY}")
    rig.wait_for(lambda e: isinstance(e, CodeScanned) and e.text == PAY)
    rig.scan_marker()
    assert rig.codes() == [BILL, PAY, "MARKER"]
    assert rig.driver.stats["scans"] == 3


def test_garbage_partial_and_overlong_lines_make_no_event(rig: Rig) -> None:
    rig.sim.command("garbage")
    rig.sim.command("long 5000")
    rig.scan_marker("FIRST")
    rig.sim.command("partial DF31010")  # broke off: no CR follows
    wait_until(lambda: rig.driver.stats["partial"] == 1, what="the partial line dropped")
    rig.scan_marker()
    assert rig.codes() == ["FIRST", "MARKER"]  # the partial line did not join MARKER
    stats = rig.driver.stats
    assert (stats["garbage"], stats["overlong"], stats["partial"]) == (1, 1, 1)


def test_noise_on_the_line_makes_no_event(rig: Rig) -> None:
    rig.sim.command("noise 00 ff 16 4d 0d 05 0d 0a 0d")
    rig.scan_marker()
    assert rig.codes() == ["MARKER"]


def test_repeats_within_the_window_are_one_scan(tmp_path: Path) -> None:
    clock = Clock()
    r = Rig(tmp_path, clock=clock)
    try:
        r.sim.command(f"scan {PAY}")
        r.wait_for(lambda e: isinstance(e, CodeScanned))
        r.sim.command("repeat 5")  # a phone held in front of the scanner
        wait_until(lambda: r.driver.stats["repeats"] == 5, what="five repeats dropped")
        clock.now += 1.0  # each sighting restarts the window: still the same presentation
        r.sim.command("repeat 1")
        wait_until(lambda: r.driver.stats["repeats"] == 6, what="the sixth repeat dropped")
        r.scan_marker()  # another code ends it...
        r.sim.command(f"scan {PAY}")  # ...so the same code again is a new scan
        r.wait_for(lambda e: isinstance(e, CodeScanned) and e.text == PAY)
        clock.now += 1.6  # past the window: the same code is read again on purpose
        r.sim.command("repeat 1")
        r.wait_for(lambda e: isinstance(e, CodeScanned) and e.text == PAY)
        assert r.codes() == [PAY, "MARKER", PAY, PAY]
    finally:
        r.close()


def test_prefix_suffix_and_aim_are_stripped_and_a_missing_one_drops_the_line(tmp_path: Path) -> None:
    framing = p.Framing(b"\x02", b"\x03", aim=True)
    r = Rig(tmp_path, framing)
    try:
        r.sim.command(f"scan {BILL} ]Q1")
        ev: Any = r.wait_for(lambda e: isinstance(e, CodeScanned))
        assert (ev.text, ev.symbology) == (BILL, "qr")
        r.sim.command("noise " + b"]Q1ABC\r".hex())  # no prefix and suffix
        r.scan_marker()
        assert r.codes() == [BILL, "MARKER"] and r.driver.stats["framing"] == 1
    finally:
        r.close()


def test_presentation_mode_is_set_at_start_and_acknowledged(tmp_path: Path) -> None:
    r = Rig(tmp_path, trigger="presentation", sim_mode="0")
    try:
        wait_until(lambda: r.driver.identity().get("trigger_mode") == "3", what="TRGMOD3 ACK")
        assert r.sim.presentation
        r.sim.command(f"scan {BILL}")
        r.wait_for(lambda e: isinstance(e, CodeScanned))
    finally:
        r.close()


def test_serial_trigger_mode_reads_on_the_hosts_trigger(tmp_path: Path) -> None:
    r = Rig(tmp_path, trigger="serial")
    try:
        wait_until(lambda: r.driver.identity().get("trigger_mode") == "0", what="TRGMOD0 ACK")
        wait_until(lambda: r.sim.triggered, what="the first read started")
        r.sim.command(f"scan {BILL}")
        r.wait_for(lambda e: isinstance(e, CodeScanned) and e.text == BILL)
        wait_until(lambda: r.sim.triggered, what="the next read started after the code")
        r.scan_marker()
    finally:
        r.close()


def test_codes_are_masked_in_logs(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        rig.sim.command(f"scan {PAY}")
        rig.wait_for(lambda e: isinstance(e, CodeScanned))
    assert "6789" in caplog.text and PAY not in caplog.text


def test_lost_port_is_a_fault_and_the_manager_reopens_the_scanner(tmp_path: Path) -> None:
    sim = Serial2dSimulator()
    sim.start_on_pty()
    events: queue.Queue[DeviceEvent] = queue.Queue()

    def opener(name: str) -> Serial2dDriver:
        return Serial2dDriver(name, open_port(sim.port_path, p.LINE), trigger="keep",
                              owns_port=True)

    manager = DeviceManager(["scanner"], opener, events.put, check_interval=0.02,
                            backoff=lambda attempts: 0.02)
    seen: list[DeviceEvent] = []

    def wait_for(pred: Any) -> DeviceEvent:
        def got() -> DeviceEvent | None:
            while not events.empty():
                seen.append(events.get_nowait())
                if pred(seen[-1]):
                    return seen[-1]
            return None
        return wait_until(got, what=f"an event; seen {seen}")

    try:
        manager.start()
        first = manager.driver("scanner")
        sim.command(f"scan {BILL}")
        wait_for(lambda e: isinstance(e, CodeScanned) and e.text == BILL)
        sim.stop()  # the pty goes away under the driver, like a pulled USB adapter
        wait_for(lambda e: isinstance(e, DeviceFault))
        sim.start_on_pty()  # plugged back in (a new pty path; the opener reads it)
        wait_until(lambda: manager.driver("scanner") not in (None, first), what="a new driver")
        wait_until(lambda: manager.health()["scanner"].state == HealthState.OK, what="scanner OK")
        sim.command(f"scan {PAY}")
        wait_for(lambda e: isinstance(e, CodeScanned) and e.text == PAY)
        assert [e.text for e in seen if isinstance(e, CodeScanned)] == [BILL, PAY]
    finally:
        manager.stop()
        sim.stop()


@pytest.mark.parametrize("kwargs", [{"debounce_ms": -1}, {"trigger": "hands-free"}])
def test_bad_driver_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Serial2dDriver("scanner", None, **kwargs)  # type: ignore[arg-type]
