"""Every registry entry builds a driver that satisfies its device's Protocol, with defaults the
config accepts, and names a simulator the hub can serve."""

from __future__ import annotations

import dataclasses

import pytest
import serial

from drivers import interfaces as i
from drivers import registry
from drivers.simbase import SimulatorBase

CAPABILITY = {"bill_validator": i.BillValidator, "coin_acceptor": i.CoinAcceptor,
              "card_reader": i.CardReader, "printer": i.ReceiptPrinter, "scanner": i.Scanner}


@pytest.mark.parametrize("entry", registry.ENTRIES, ids=lambda e: e.protocol)
def test_entry_builds_a_driver_of_its_capability(entry) -> None:
    port = serial.serial_for_url("loop://", timeout=0.05)
    options = entry.options()
    assert dataclasses.is_dataclass(options)
    driver = entry.open_driver(registry.DriverSetup("dev", port, options))
    assert isinstance(driver, CAPABILITY[entry.device])
    assert driver.owns_port
    driver.stop()
    assert not port.is_open


@pytest.mark.parametrize("entry", registry.ENTRIES, ids=lambda e: e.protocol)
def test_entry_names_a_simulator(entry) -> None:
    assert issubclass(entry.simulator(), SimulatorBase)
    assert registry.sim_entry(entry.protocol) is entry
    line = entry.line_settings(entry.options())
    assert line.parity in ("N", "E", "O") and line.bytesize in (7, 8)


def test_each_device_lists_its_default_first() -> None:
    assert registry.DEVICES == {"bill_validator": ("id003", "ccnet", "essp"),
                                "coin_acceptor": ("cctalk",),
                                "card_reader": ("em4100", "pn532"), "printer": ("escpos",),
                                "scanner": ("serial2d",)}
    assert registry.sim_entry("coin-acceptor").protocol == "cctalk"
    with pytest.raises(KeyError, match="no simulator for 'coin_acceptor'"):
        registry.sim_entry("coin_acceptor")
    assert registry.sim_entry("bill-validator").protocol == "id003"
    assert registry.sim_entry("card-reader").protocol == "em4100"
    with pytest.raises(KeyError, match="unknown protocol 'mdb'"):
        registry.entry("mdb")


def test_printer_line_follows_its_configured_speed() -> None:
    entry = registry.entry("escpos")
    assert entry.line_settings(entry.options(baudrate=115200)).baudrate == 115200
    assert registry.entry("id003").line_settings(None).parity == "E"


@pytest.mark.parametrize("entry", registry.ENTRIES, ids=lambda e: e.protocol)
def test_every_simulator_takes_the_shared_line_faults(entry) -> None:
    sim = entry.simulator()()
    assert sim.command("drop 2") == "ok: dropping the next 2 replies" and sim.drop_replies == 2
    assert sim.command("delay 30") == "ok: replies delayed 30 ms"
    assert sim.reply_delay == pytest.approx(0.03)
    for bad in ("drop x", "delay -5", "delay", "noise", "noise zz"):
        assert sim.command(bad).startswith("error: "), bad
