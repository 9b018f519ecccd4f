"""CCNET, eSSP and PN532 from the configuration to the bench: their options checked from their
registry entries (a typo or a bad value is one clear line; the eSSP key never echoed),
``kiosk sim --protocol`` for each, and ``kiosk devices`` showing what each device said about
itself."""

from __future__ import annotations

import json

import pytest
import serial

from drivers.bill_validator.ccnet import protocol as ccnet
from drivers.bill_validator.essp import protocol as essp
from drivers.card_reader.pn532 import protocol as pn532
from drivers.transport import open_port
from kiosk.cli.devices import identity_text, make_simulator
from kiosk.config import (
    CcnetOptions,
    ConfigError,
    EsspOptions,
    Pn532Options,
    config_from_dict,
    simulator_options,
    with_simulated,
)
from tests.cli.conftest import kiosk
from tests.cli.test_cli_devices import Bench

SITE_KEY = "89ABCDEF01234567"


@pytest.fixture
def bench():
    started: list[Bench] = []

    def start(*args: str) -> Bench:
        started.append(Bench(*args))
        return started[-1]

    yield start
    for b in started:
        b.kill()


def refused(raw: dict, *keys: str) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    msg = str(info.value)
    assert "\n" not in msg
    for key in keys:
        assert key in msg, msg
    return msg


def essp_config(**options) -> dict:
    table = {"protocol": "essp", "url": "sim://essp", **options}
    return {"devices": {"bill_validator": table}}


# ---------------------------------------------------------------- configuration
def test_each_new_protocol_has_its_own_options():
    cfg = config_from_dict({"devices": {
        "bill_validator": {"protocol": "ccnet", "url": "sim://ccnet", "country": "CHN",
                           "address": 3, "channels": {"0": 100, "5": 10000, "2": 1000}},
        "card_reader": {"protocol": "pn532", "url": "sim://pn532", "poll_interval": 0.1,
                        "removal_polls": 3},
    }, "limits": {"accepted_notes_minor": [100, 1000, 10000]}})
    bv, cr = cfg.devices["bill_validator"].options, cfg.devices["card_reader"].options
    assert isinstance(bv, CcnetOptions) and bv.channels == {0: 100, 2: 1000, 5: 10000}
    assert cr == Pn532Options(poll_interval=0.1, removal_polls=3)
    ess = config_from_dict(essp_config(fixed_key=SITE_KEY, max_protocol=7))
    assert ess.devices["bill_validator"].options == EsspOptions(fixed_key=SITE_KEY,
                                                                max_protocol=7)


@pytest.mark.parametrize("device,table,key", [
    ("bill_validator", {"protocol": "ccnet", "countyr": "CHN"}, "countyr"),
    ("bill_validator", {"protocol": "essp", "fixed_kye": SITE_KEY}, "fixed_kye"),
    ("card_reader", {"protocol": "pn532", "removal_poll": 3}, "removal_poll"),
    ("bill_validator", {"protocol": "essp", "country": "CHN"}, "country"),  # ccnet's, not essp's
])
def test_a_typo_is_one_line_naming_the_key_and_the_options(device, table, key):
    msg = refused({"devices": {device: table}}, f"devices.{device}.{key}",
                  "not an option of protocol")
    assert table["protocol"] in msg


@pytest.mark.parametrize("device,table,key", [
    ("bill_validator", {"protocol": "ccnet", "channels": {"24": 100}}, "channels"),
    ("bill_validator", {"protocol": "ccnet", "country": "cn"}, "country"),
    ("bill_validator", {"protocol": "ccnet", "address": 0}, "address"),
    ("bill_validator", {"protocol": "essp", "channels": {"0": 100}}, "channels"),
    ("bill_validator", {"protocol": "essp", "channels": {"17": 100}}, "channels"),
    ("bill_validator", {"protocol": "essp", "max_protocol": 5}, "max_protocol"),
    ("bill_validator", {"protocol": "essp", "address": 0x7F}, "address"),
    ("card_reader", {"protocol": "pn532", "poll_interval": 0}, "poll_interval"),
    ("card_reader", {"protocol": "pn532", "poll_interval": 5.0}, "poll_interval"),
    ("card_reader", {"protocol": "pn532", "removal_polls": 0}, "removal_polls"),
])
def test_a_bad_value_is_one_line_naming_the_key(device, table, key):
    refused({"devices": {device: table}}, f"devices.{device}.{key}")


@pytest.mark.parametrize("bad", ["0123456789abcdeg", "1234", SITE_KEY + "00", 12345678])
def test_a_bad_fixed_key_is_refused_without_showing_it(bad):
    msg = refused(essp_config(fixed_key=bad), "devices.bill_validator.fixed_key", "16 hex digits")
    assert str(bad) not in msg and "secret" in msg


def test_the_fixed_key_stays_out_of_reprs_and_config_dumps():
    cfg = config_from_dict(essp_config(fixed_key=SITE_KEY))
    assert SITE_KEY not in repr(cfg) and SITE_KEY not in str(cfg.devices)
    assert SITE_KEY not in repr(cfg.devices["bill_validator"].options)


def test_the_new_protocols_are_not_the_defaults():
    cfg = config_from_dict({})
    assert cfg.devices["bill_validator"].protocol == "id003"
    assert cfg.devices["card_reader"].protocol == "em4100"


def test_a_simulated_validator_keeps_options_of_its_own_protocol_only():
    cfg = config_from_dict(essp_config(fixed_key=SITE_KEY))
    same = with_simulated(cfg, "bill_validator", "essp")
    assert same.devices["bill_validator"].options.fixed_key == SITE_KEY
    other = with_simulated(cfg, "bill_validator", "ccnet").devices["bill_validator"]
    assert (other.url, other.options) == ("sim://ccnet", CcnetOptions())
    assert simulator_options(cfg)["essp"]["fixed_key"] == SITE_KEY
    with pytest.raises(ConfigError, match="mdb"):
        with_simulated(cfg, "bill_validator", "mdb")


# ---------------------------------------------------------------- kiosk sim
def test_the_essp_simulator_takes_the_config_key_unless_told_another():
    cfg = config_from_dict(essp_config(fixed_key=SITE_KEY))
    assert make_simulator("bill-validator", "essp", None, cfg).fixed_key == \
        int(SITE_KEY, 16).to_bytes(8, "little")
    told = make_simulator("bill-validator", "essp", None, cfg, fixed_key="0x" + "11" * 8)
    assert told.fixed_key == bytes([0x11]) * 8
    plain = make_simulator("bill-validator", "essp", None, config_from_dict({}))
    assert plain.fixed_key == int(essp.DEFAULT_FIXED_KEY, 16).to_bytes(8, "little")


@pytest.mark.parametrize("args,needle", [
    (["bill-validator", "--protocol", "essp", "--fixed-key", "zz" * 8], "--fixed-key"),
    (["bill-validator", "--protocol", "ccnet", "--fixed-key", SITE_KEY], "--fixed-key"),
    (["card-reader", "--protocol", "ccnet"], "ccnet"),
])
def test_sim_bad_input_is_one_line_and_exit_2(args, needle):
    proc = kiosk("sim", *args, timeout=30)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], proc.stderr
    assert "zz" * 8 not in proc.stderr


def test_sim_ccnet_answers_a_plain_host_and_takes_the_bench_words(bench):
    b = bench("bill-validator", "--protocol", "ccnet")
    first = b.line()
    assert first.startswith("PORT /dev/pts/")
    port = open_port(first.split()[1], ccnet.LINE)
    try:
        port.timeout = 2
        port.write(ccnet.encode(ccnet.POLL))
        reader = ccnet.FrameReader()
        frames: list = []
        while not frames:
            chunk = port.read(1)
            assert chunk, "no answer to POLL"
            frames = reader.feed(chunk)
        assert frames[0].cmd == ccnet.POWER_UP
    finally:
        port.close()
    assert b.ask("insert 10").startswith("error: device is in power-up state")  # no RESET yet
    assert b.ask("drop 2") == "ok: dropping the next 2 replies"
    assert b.ask("noise 00 ff") == "ok: sent 2 noise bytes"
    assert b.ask("jam") == "ok: acceptor_jam" and b.ask("clear") == "ok: faults cleared"
    assert json.loads(b.ask("counters"))["total_notes"] == 0
    assert b.ask("identity").startswith("part=SM-CN1715")


def test_sim_essp_and_pn532_start_with_their_port_and_answer_bench_words(bench):
    b = bench("bill-validator", "--protocol", "essp", "--fixed-key", SITE_KEY)
    assert b.line().startswith("PORT /dev/pts/")
    assert b.ask("delay 5") == "ok: replies delayed 5 ms"
    assert b.ask("wrong-key on") == "ok: wrong-key on"
    assert b.ask("status").startswith("enabled=off key=none")
    card = bench("card-reader", "--protocol", "pn532")
    path = card.line()
    assert path.startswith("PORT /dev/pts/")
    assert card.ask("present 04A1B2C3").startswith("ok: card 04A1B2C3")
    assert card.ask("tear 3") == "ok: tear 3"
    assert card.ask("remove") == "ok: card removed"
    port = serial.Serial(path.split()[1], pn532.LINE.baudrate, timeout=1)
    port.close()


# ---------------------------------------------------------------- identity
def test_identity_line_leaves_out_what_is_not_known():
    assert identity_text(None) == ""
    text = identity_text({"protocol": "ccnet", "firmware": "SM-CN1715", "serial_number": None,
                          "bill_table": {0: 100, 1: 500}})
    assert text == "firmware=SM-CN1715 bill_table=0:100,1:500"


def test_devices_shows_each_protocols_identity(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[devices.bill_validator]\nprotocol = "ccnet"\nurl = "sim://ccnet"\n'
                   '[devices.card_reader]\nprotocol = "pn532"\nurl = "sim://pn532"\n')
    proc = kiosk("devices", "--json", "--config", str(cfg), "--wait", "3", timeout=60)
    assert proc.returncode == 0, proc.stderr
    devices = {d["name"]: d for d in json.loads(proc.stdout)["devices"]}
    bv, cr = devices["bill_validator"], devices["card_reader"]
    assert bv["status"] == "ok", bv
    assert bv["identity"]["serial_number"] == "41K123456789"
    assert bv["identity"]["bill_table"] == {str(k): v for k, v in ccnet.CNY_TYPE_VALUES.items()}
    assert cr["identity"]["protocol"] == "pn532" and cr["identity"]["firmware"] != "?"
    assert devices["printer"]["identity"] is None  # a driver that does not identify itself
    text = kiosk("devices", "--config", str(cfg), "--wait", "3", timeout=60).stdout
    assert "serial_number=41K123456789" in text


def test_devices_essp_identity_and_no_key_in_the_report(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[devices.bill_validator]\nprotocol = "essp"\nurl = "sim://essp"\n'
                   f'fixed_key = "{SITE_KEY}"\n')
    proc = kiosk("devices", "--json", "--config", str(cfg), "--wait", "3", timeout=60)
    assert proc.returncode == 0, proc.stderr
    bv = {d["name"]: d for d in json.loads(proc.stdout)["devices"]}["bill_validator"]
    assert bv["status"] == "ok", bv  # the simulator was given the configured key
    assert bv["identity"]["firmware"] == "0430" and bv["identity"]["serial_number"] == 0x01020304
    assert SITE_KEY not in proc.stdout + proc.stderr


def test_diag_json_shows_the_identity_on_sim_urls(tmp_path):
    from tests.cli.test_cli_staff import diag, write_config

    cfg = write_config(tmp_path / "k.toml", tmp_path / "k.db", devices={
        "bill_validator": ("sim://essp", "essp"), "card_reader": ("sim://pn532", "pn532")})
    assert diag(cfg, "--no-devices")["bill_validator"]["firmware"] is None  # nothing opened
    report = diag(cfg)
    bv, cr = report["bill_validator"], report["card_reader"]
    assert bv["protocol"] == "essp" and bv["status"] == "ok", bv
    assert bv["firmware"]["serial_number"] == 0x01020304
    assert bv["firmware"]["channels"] == {"1": 100, "2": 500, "3": 1000, "4": 2000, "5": 5000,
                                          "6": 10000}
    assert cr["firmware"]["protocol"] == "pn532" and cr["firmware"]["firmware"] != "?"
