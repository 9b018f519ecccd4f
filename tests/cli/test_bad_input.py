"""Bad input gets one clear line and exit code 2; nothing is lost (docs/promises.md)."""

from __future__ import annotations

import json

import pytest

from kiosk.config import ConfigError, config_from_dict, load_config


@pytest.mark.parametrize("toml,key", [
    ("[limits]\nmax_txn_minor = 12.5\n", "limits.max_txn_minor"),
    ("[limits]\nmax_txn_minor = true\n", "limits.max_txn_minor"),
    ("[limits]\nmax_tnx_minor = 100\n", "limits.max_tnx_minor"),  # a typo
    ("[kiosk]\nid = \"\"\n", "kiosk.id"),
    ("[billing]\nurl = \"ftp://x\"\n", "billing.url"),
    ("[devices.bill_validator]\nurl = \"sim://bill-validator\"\nprotocol = \"mdb\"\n", "devices.bill_validator.protocol"),
    ("[devices.bill_validator]\nurl = \"x\"\nprotocol = \"id003\"\nchannels = { \"0x61\" = 1.5 }\n", "devices.bill_validator.channels"),
    ("[devices.toaster]\nurl = \"x\"\nprotocol = \"x\"\n", "devices.toaster"),
    ("[limits]\naccepted_notes_minor = [100, \"50\"]\n", "limits.accepted_notes_minor[1]"),
    ("[limits]\noffline_max_txn_minor = 900000\n", "limits.offline_max_txn_minor"),
    ("this is = = not toml", "not valid TOML"),
])
def test_broken_config_names_the_key(tmp_path, run_kiosk, toml, key):
    path = tmp_path / "kiosk.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(path)
    proc = run_kiosk("queue", "status", "--config", str(path), "--db", str(tmp_path / "k.db"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and key.split("[")[0] in lines[0] and "Traceback" not in proc.stderr


def test_missing_config_file(run_kiosk, tmp_path):
    proc = run_kiosk("queue", "status", "--config", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_defaults_are_valid_and_documented_values():
    cfg = config_from_dict({})
    assert cfg.limits.max_txn_minor == 500_000 and cfg.billing.url.startswith("http")
    assert cfg.devices["bill_validator"].protocol == "id003"


def test_bad_cli_values(run_kiosk, tmp_path):
    proc = run_kiosk("simulate", "--sessions", "1", "--api", "not-a-url", "--db", str(tmp_path / "k.db"))
    assert proc.returncode == 2 and "--api" in proc.stderr
    proc = run_kiosk("billing-server", "--port", "99999")
    assert proc.returncode == 2
    proc = run_kiosk("queue", "status", "--db", str(tmp_path))  # a directory, not a database
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_queue_status_json(run_kiosk, tmp_path):
    proc = run_kiosk("queue", "status", "--json", "--db", str(tmp_path / "k.db"), check=True)
    data = json.loads(proc.stdout)
    for key in ("pending", "in_flight", "delivered", "dead", "oldest_pending_age_s"):
        assert isinstance(data[key], int)
