"""Config that cannot lie: per-protocol options, absent devices, cross-field checks and
command-line overrides checked exactly like the file (README: Configuration)."""

from __future__ import annotations

import pytest

from kiosk.config import (
    CcTalkOptions,
    ConfigError,
    Em4100Options,
    EscPosOptions,
    Id003Options,
    config_from_dict,
    config_with,
)


def refused(raw: dict, *keys: str) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    msg = str(info.value)
    assert "\n" not in msg
    for key in keys:
        assert key in msg, msg
    return msg


# ---------------------------------------------------------------- per-protocol options
def test_each_protocol_has_its_own_typed_options():
    cfg = config_from_dict({"devices": {
        "bill_validator": {"channels": {"0x61": 100, "0x62": 500}},
        "coin_acceptor": {"address": 3, "checksum": "crc16", "channels": {"1": 100}},
        "printer": {"baudrate": 115200, "qr_size": 4, "chinese": False},
    }, "limits": {"accepted_notes_minor": [100, 500], "accepted_coins_minor": [100]}})
    bv, ca = cfg.devices["bill_validator"].options, cfg.devices["coin_acceptor"].options
    assert isinstance(bv, Id003Options) and bv.channels == {0x61: 100, 0x62: 500}
    assert isinstance(ca, CcTalkOptions)
    assert (ca.address, ca.checksum, ca.channels) == (3, "crc16", {1: 100})
    assert isinstance(cfg.devices["card_reader"].options, Em4100Options)
    assert cfg.devices["printer"].options == EscPosOptions(baudrate=115200, chinese=False,
                                                           qr_size=4)


@pytest.mark.parametrize("device,key,value", [
    ("bill_validator", "address", 2),
    ("bill_validator", "checksum", "simple"),
    ("card_reader", "channels", {"1": 10}),
    ("printer", "channels", {"1": 10}),
    ("coin_acceptor", "baudrate", 9600),
    ("card_reader", "qr_size", 4),
])
def test_a_key_of_another_protocol_is_refused_by_name(device, key, value):
    refused({"devices": {device: {key: value}}}, f"devices.{device}.{key}",
            "not an option of protocol")


@pytest.mark.parametrize("device,key,value", [
    ("coin_acceptor", "address", 1),  # the host's own address
    ("coin_acceptor", "address", 256),
    ("coin_acceptor", "checksum", "md5"),
    ("coin_acceptor", "channels", {"17": 10}),  # the inhibit mask has 16 channels
    ("bill_validator", "channels", {"0x71": 100}),  # the C0 mask covers 0x61..0x70
    ("printer", "baudrate", 12345),
    ("printer", "qr_size", 0),
    ("printer", "qr_size", 8),  # the largest receipt QR would run off a 58 mm roll
    ("printer", "chinese", "yes"),
    ("bill_validator", "poll_interval_ms", 0),
    ("bill_validator", "poll_interval_ms", 5000),
    ("card_reader", "enabled", "no"),
])
def test_option_values_are_checked(device, key, value):
    refused({"devices": {device: {key: value}}}, f"devices.{device}.{key}")


# ---------------------------------------------------------------- absent devices
@pytest.mark.parametrize("name", ["bill_validator", "coin_acceptor", "card_reader", "printer",
                                  "scanner"])
def test_a_disabled_device_does_not_exist(name):
    cfg = config_from_dict({"devices": {name: {"enabled": False}}})
    assert name not in cfg.devices and len(cfg.devices) == 4


def test_without_a_coin_acceptor_no_coin_is_offered():
    cfg = config_from_dict({"devices": {"coin_acceptor": {"enabled": False}}})
    assert cfg.limits.accepted_coins_minor == frozenset()
    assert cfg.limits.accepted_notes_minor  # notes still are


def test_accepted_coins_with_the_acceptor_disabled_is_refused():
    refused({"devices": {"coin_acceptor": {"enabled": False}},
             "limits": {"accepted_coins_minor": [100]}},
            "limits.accepted_coins_minor", "devices.coin_acceptor")


def test_a_disabled_device_is_still_checked_for_typos():
    refused({"devices": {"coin_acceptor": {"enabled": False, "adress": 2}}},
            "devices.coin_acceptor.adress")


# ---------------------------------------------------------------- cross-field checks
@pytest.mark.parametrize("limits,keys", [
    ({"offline_max_txn_minor": 900_000}, ("limits.offline_max_txn_minor", "limits.max_txn_minor")),
    ({"min_amount_minor": 200_000}, ("limits.offline_max_txn_minor", "limits.min_amount_minor")),
    ({"min_amount_minor": 0}, ("limits.min_amount_minor",)),
    ({"quick_amounts_minor": [5000, 600_000]}, ("limits.quick_amounts_minor[1]",
                                                 "limits.max_txn_minor")),
    ({"quick_amounts_minor": [50]}, ("limits.quick_amounts_minor[0]", "limits.min_amount_minor")),
    ({"insert_timeout_s": 0}, ("limits.insert_timeout_s",)),
    ({"idle_timeout_s": 0}, ("limits.idle_timeout_s",)),
    ({"receipt_timeout_s": 0}, ("limits.receipt_timeout_s",)),
    ({"accepted_notes_minor": []}, ("limits.accepted_notes_minor", "devices.bill_validator")),
    ({"accepted_notes_minor": [100, 20000]}, ("limits.accepted_notes_minor", "20000",
                                              "devices.bill_validator.channels")),
    ({"accepted_coins_minor": [10, 20]}, ("limits.accepted_coins_minor", "20",
                                          "devices.coin_acceptor.channels")),
])
def test_limits_that_contradict_each_other_are_refused(limits, keys):
    refused({"limits": limits}, *keys)


def test_limits_at_their_bounds_are_fine():
    cfg = config_from_dict({"limits": {"min_amount_minor": 100, "offline_max_txn_minor": 100,
                                       "max_txn_minor": 100, "quick_amounts_minor": [100]}})
    assert cfg.limits.offline_max_txn_minor == cfg.limits.max_txn_minor == 100


def test_channels_changed_without_the_notes_is_refused():
    # the file drops the ¥100 note's channel but still says it is accepted
    refused({"devices": {"bill_validator": {"channels": {"0x61": 100, "0x62": 500}}}},
            "limits.accepted_notes_minor", "10000")


def test_no_validator_needs_no_notes():
    cfg = config_from_dict({"devices": {"bill_validator": {"enabled": False}}})
    assert cfg.limits.accepted_notes_minor == frozenset()


@pytest.mark.parametrize("kiosk_id", ["KIOSK-0001", "KIOSK-T1", "KIOSK-KILL9", "K01", "A" * 32])
def test_kiosk_ids_in_use_fit_the_pattern(kiosk_id):
    assert config_from_dict({"kiosk": {"id": kiosk_id}}).kiosk.id == kiosk_id


@pytest.mark.parametrize("kiosk_id", ["kiosk-1", "-KIOSK", "K1", "A" * 33, "KIOSK 1", "KIOSK/1"])
def test_a_bad_kiosk_id_is_refused(kiosk_id):
    refused({"kiosk": {"id": kiosk_id}}, "kiosk.id")


# ---------------------------------------------------------------- overrides
def test_an_override_is_checked_like_the_file_and_names_its_flag():
    with pytest.raises(ConfigError, match=r"^--kiosk-id: 'bad id'"):
        config_with({}, {"kiosk.id": ("--kiosk-id", "bad id")})
    with pytest.raises(ConfigError, match=r"^--poll-ms: must be from 10 to 1000, got 0"):
        config_with({}, {"devices.printer.poll_interval_ms": ("--poll-ms", 0)})
    with pytest.raises(ConfigError, match=r"^--db: expected a non-empty string"):
        config_with({}, {"kiosk.db": ("--db", "")})


def test_an_override_wins_over_the_file_and_leaves_it_untouched():
    raw = {"kiosk": {"id": "KIOSK-FILE", "db": "a.db"}}
    cfg = config_with(raw, {"kiosk.id": ("--kiosk-id", "KIOSK-CLI")})
    assert (cfg.kiosk.id, cfg.kiosk.db) == ("KIOSK-CLI", "a.db")
    assert raw == {"kiosk": {"id": "KIOSK-FILE", "db": "a.db"}}


def test_a_file_error_is_still_the_files():
    with pytest.raises(ConfigError, match=r"^kiosk: expected a table"):
        config_with({"kiosk": 3}, {"kiosk.id": ("--kiosk-id", "KIOSK-CLI")})


@pytest.mark.parametrize("args,flag", [
    (["--kiosk-id", "lower-case"], "--kiosk-id"),
    (["--poll-ms", "0"], "--poll-ms"),
    (["--state-dir", ""], "--state-dir"),
    (["--db", ""], "--db"),
])
def test_a_bad_override_exits_2_with_one_line(run_kiosk, tmp_path, args, flag):
    proc = run_kiosk("simulate", "--sessions", "0", "--db", str(tmp_path / "k.db"), *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0] and "Traceback" not in proc.stderr
