"""``sim://`` is a pyserial URL handler: it composes with ``spy://`` and any code that calls
``serial.serial_for_url``, and it finds its simulators without a hub being passed along."""

from __future__ import annotations

import pytest
import serial

from drivers import registry
from drivers.bill_validator.id003 import protocol as p
from drivers.bill_validator.id003.simulator import Id003Simulator
from drivers.errors import PortError
from drivers.transport import LineSettings, SimulatorHub, open_port

ID003_LINE = registry.entry("id003").line


def exchange(port: serial.SerialBase, cmd: int) -> p.Frame:
    reader = p.FrameReader()
    port.write(p.encode(cmd))
    for _ in range(40):  # 40 reads of at most port.timeout each
        frames = reader.feed(port.read(16))
        if frames:
            return frames[0]
    raise AssertionError("no answer")


def test_spy_around_sim_dumps_a_real_id003_exchange(tmp_path) -> None:
    dump = tmp_path / "wire.txt"
    hub = SimulatorHub(str(tmp_path))
    port = serial.serial_for_url(f"spy://sim://id003?file={dump}", baudrate=9600, parity="E",
                                 timeout=0.05)
    try:
        answer = exchange(port, p.STATUS_REQUEST)
        assert answer.cmd == p.POWER_UP  # a freshly switched-on validator says so first
        assert isinstance(hub.get("id003"), Id003Simulator)
    finally:
        port.close()
        hub.stop()
    lines = dump.read_text().splitlines()
    tx = " ".join(f"{b:02X}" for b in p.encode(p.STATUS_REQUEST))
    assert any(" TX " in line and tx in line for line in lines)
    assert any(" RX " in line and "FC 05 40" in line for line in lines)


def test_protocol_and_device_alias_name_one_simulator(tmp_path) -> None:
    hub = SimulatorHub(str(tmp_path))
    try:
        assert hub.get("bill-validator") is hub.get("id003")
        # the state file kept its name from before protocols had sim:// names of their own
        assert hub.get("id003").state_file.path == tmp_path / "bill-validator.json"
        port = open_port("sim://bill-validator", ID003_LINE)
        try:
            assert port.port == hub.get("id003").port_path  # resolved to the pty: re-openable
            assert exchange(port, p.STATUS_REQUEST).cmd == p.POWER_UP
        finally:
            port.close()
    finally:
        hub.stop()


def test_a_second_8e1_open_of_the_same_simulator(tmp_path) -> None:
    hub = SimulatorHub(str(tmp_path))
    try:
        for _ in range(2):
            port = open_port("sim://id003", ID003_LINE)
            assert port.parity == serial.PARITY_EVEN
            exchange(port, p.STATUS_REQUEST)
            port.close()
    finally:
        hub.stop()


def test_the_newest_hub_answers(tmp_path) -> None:
    first = SimulatorHub(str(tmp_path / "a"))
    second = SimulatorHub(None)
    port = open_port("sim://printer", LineSettings())
    try:
        assert "printer" in second.sims and not first.sims
    finally:
        port.close()
        second.stop()


def test_unknown_name_and_no_hub_are_one_clear_error(tmp_path) -> None:
    hub = SimulatorHub(None)
    with pytest.raises(PortError, match=r"no simulator for 'toaster'; known: bill-validator"):
        open_port("sim://toaster", LineSettings())
    with pytest.raises(PortError, match="expected sim://<name>"):
        open_port("sim://printer/extra", LineSettings())
    del hub  # the hub is gone: nothing serves sim:// any more
    with pytest.raises(PortError, match="need a simulator hub"):
        open_port("sim://printer", LineSettings())


def test_spy_refuses_to_wrap_a_port_that_is_not_native() -> None:
    with pytest.raises(serial.SerialException, match="wraps a native port"):
        serial.serial_for_url("spy://loop://")


def test_spy_around_sim_dumps_a_ccnet_exchange_and_each_protocol_has_its_own_state(
        tmp_path) -> None:
    from drivers.bill_validator.ccnet import protocol as cc
    from drivers.bill_validator.ccnet.simulator import CcnetSimulator

    dump = tmp_path / "wire.txt"
    hub = SimulatorHub(str(tmp_path))
    port = serial.serial_for_url(f"spy://sim://ccnet?file={dump}", baudrate=9600, timeout=0.05)
    try:
        port.write(cc.encode(cc.POLL))
        reader, frames = cc.FrameReader(), []
        for _ in range(40):
            frames += reader.feed(port.read(16))
            if frames:
                break
        assert frames and frames[0].cmd == cc.POWER_UP
        assert isinstance(hub.get("ccnet"), CcnetSimulator)
        assert hub.get("ccnet") is not hub.get("bill-validator")  # ID-003 stays the default
        assert hub.get("essp").state_file.path == tmp_path / "bill-validator-essp.json"
        assert hub.get("pn532").state_file.path == tmp_path / "card-reader-pn532.json"
    finally:
        port.close()
        hub.stop()
    lines = dump.read_text().splitlines()
    assert any(" TX " in line and "02 03 06 33" in line for line in lines)
    assert any(" RX " in line and "02 03 06 10" in line for line in lines)
