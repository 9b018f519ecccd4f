"""Self-tests over real ptys: the validator takes a note into escrow and hands it back (never
money), the coin test reports its coin as money to flag, the printer prints a test page, the
card-read test reads a held card; ``DeviceProbe`` reports identity and counters."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from drivers.bill_validator.id003.simulator import Id003Simulator
from drivers.card_reader.em4100.simulator import Em4100Simulator
from drivers.coin_acceptor.cctalk.simulator import CcTalkSimulator
from drivers.printer.escpos.simulator import EscPosSimulator
from kiosk.config import Config
from kiosk.services.devices import open_device
from kiosk.staff import selftest as st
from kiosk.staff.probe import DeviceProbe
from tests.staff.conftest import MT_PIN


def wait_until(cond, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


@pytest.fixture
def rig(tmp_path):
    sims = {"bill_validator": Id003Simulator(tmp_path / "bv.json"),
            "coin_acceptor": CcTalkSimulator(tmp_path / "ca.json"),
            "card_reader": Em4100Simulator(tmp_path / "cr.json"),
            "printer": EscPosSimulator(tmp_path / "pr.json")}
    cfg = Config()
    devices = {name: dataclasses.replace(cfg.devices[name], url=sim.start_on_pty(),
                                         poll_interval_ms=30) for name, sim in sims.items()}
    probe = DeviceProbe(dataclasses.replace(cfg, devices=devices), open_device)
    probe.start(3.0)
    yield probe, sims, cfg
    probe.stop()
    for sim in sims.values():
        sim.stop()


def in_background(fn):
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    return t, out


def test_validator_accept_test_returns_the_note(rig):
    probe, sims, cfg = rig
    bv = sims["bill_validator"]
    t, out = in_background(lambda: st.validator_accept_test(
        probe.driver("bill_validator"), probe.wait_event, cfg.limits.accepted_notes_minor, 5))
    assert wait_until(lambda: not bv._inhibited)  # the test enabled the acceptor
    bv.insert_note(5000)
    t.join(10)
    (result,) = out
    assert result.ok and result.money_minor == 0 and "50.00" in result.detail
    assert bv.counters()["stacked"] == {} and bv.counters()["returned"] == 1
    assert wait_until(lambda: bv._inhibited)  # and disabled it again


def test_validator_accept_test_without_a_note_fails(rig):
    probe, _, cfg = rig
    result = st.validator_accept_test(probe.driver("bill_validator"), probe.wait_event,
                                      cfg.limits.accepted_notes_minor, 0.3)
    assert not result.ok and "no note" in result.detail


def test_coin_test_reports_its_coin_as_money(rig, console):
    probe, sims, cfg = rig
    coin = sims["coin_acceptor"]
    mt = console.login("mt1", MT_PIN)
    # The device part waits off this thread; the console (its connection is this thread's)
    # records the outcome here.
    t, out = in_background(lambda: st.coin_test(
        probe.driver("coin_acceptor"), probe.wait_event, cfg.limits.accepted_coins_minor, 5))
    assert wait_until(lambda: coin.master_enabled and coin.enabled_channels)
    coin.insert_coin(100)
    t.join(10)
    (tested,) = out
    result = console.self_test(mt, "coin", lambda: tested)
    assert result.ok and result.money_minor == 100
    (flag,) = console.journal.open_flags()
    assert flag["kind"] == "self_test_money" and flag["value_minor"] == 100


def test_printer_page_and_card_read(rig):
    probe, sims, _ = rig
    assert st.printer_test_page(probe.driver("printer"), "K1").ok
    page = sims["printer"].wait_receipt(1, 5)
    assert any("Test page" in line for line in page["lines"]) and page["qr"] == ["TEST:K1"]
    sims["printer"].command("cover open")
    failed = st.printer_test_page(probe.driver("printer"), "K1")
    assert not failed.ok and "cover open" in failed.detail
    sims["card_reader"].command("present 0A0B0C0D0E")
    assert st.card_read_test("card_reader", probe.wait_event, 3).ok


def test_probe_views_carry_health_counters_and_identity(rig):
    probe, _, _ = rig
    views = probe.views()
    assert set(views) == {"bill_validator", "coin_acceptor", "card_reader", "printer"}
    assert views["bill_validator"].health.state.value == "ok"
    assert views["bill_validator"].stats["polls"] >= 4
    ident = views["coin_acceptor"].identity
    assert ident and ident.get("manufacturer") == "CPT" and ident.get("software") == "SIM-1.0"
