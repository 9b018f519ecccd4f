"""The command line's promise (docs/architecture.md, Command line): every command and subcommand
has ``--help`` with a help text for every option, takes ``--config`` on groups and subcommands
alike, and answers bad input with exactly one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from billing_server.cli import build_parser as server_parser
from payment_gateway.cli import build_parser as gateway_parser
from kiosk.cli.main import build_parser, main
from tests.cli.conftest import kiosk
from tests.billing_server.conftest import TEST_TOKEN

BROKEN_KEY = "[limits]\nmax_tnx_minor = 100\n"  # a typo'd key


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (argv prefix, parser) in the tree, the top level first. ``kiosk billing-server``
    hands its whole command line to the server's own parser, so the walk goes on there."""
    if path == ("billing-server",):
        parser = server_parser(prog="kiosk billing-server")
    if path == ("payment-gateway",):
        parser = gateway_parser(prog="kiosk payment-gateway")
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


COMMANDS = [path for path, _parser in commands(build_parser())]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """``kiosk ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --help, or a usage mistake
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_the_walk_finds_every_command_group_and_subcommand():
    for expected in [("queue", "status"), ("report", "daily"), ("billing-server", "settlement"),
                     ("collect", "count"), ("staff", "add"), ("diag",), ("simulate",)]:
        assert expected in COMMANDS
    assert len(COMMANDS) > 30


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "kiosk")
def test_help_exits_0_and_every_option_says_what_it_is(path, capsys):
    code, out, err = run([*path, "--help"], capsys)
    assert code == 0 and err == ""
    assert out.startswith("usage: kiosk")
    parser = dict(commands(build_parser()))[path]
    silent = [a.option_strings or [a.dest] for a in parser._actions
              if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
              and not a.help]
    assert silent == []
    assert any("--config" in a.option_strings for a in parser._actions)


@pytest.fixture
def broken_config(tmp_path: Path) -> str:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN_KEY)
    return str(path)


def bad_inputs(tmp: Path, broken: str) -> list[tuple[list[str], list[str]]]:
    """(argv, words the one line must contain)."""
    db = str(tmp / "k.db")
    missing = str(tmp / "no" / "such" / "dir" / "k.db")
    return [
        ([], ["required", "command"]),
        (["no-such-command"], ["invalid choice"]),
        (["queue", "status", "--db", "/nonexistent/dir/k.db"], ["--db", "/nonexistent/dir"]),
        (["queue", "requeue", "--db", missing], ["--db", missing.rsplit("/", 1)[0]]),
        (["queue", "status", "--db", str(tmp)], ["--db", str(tmp)]),  # a folder, not a database
        (["audit", "show", "--db", missing], ["--db", "does not exist"]),
        (["queue", "status", "--config", str(tmp / "kiosk.tmol")], ["not found", "kiosk.tmol"]),
        (["queue", "status", "--config", broken, "--db", db], ["limits.max_tnx_minor"]),
        (["queue", "--config", broken, "status", "--db", db], ["limits.max_tnx_minor"]),
        (["--config", broken, "faults", "list", "--db", db], ["limits.max_tnx_minor"]),
        (["report", "daily", "--date", "2026-02-30", "--db", db], ["--date", "does not exist"]),
        (["report", "daily", "--date", "2026-13-01", "--db", db], ["--date", "does not exist"]),
        (["report", "daily", "--date", "30/02/2026", "--db", db], ["--date", "YYYY-MM-DD"]),
        (["report", "daily", "--format", "pdf", "--db", db], ["--format", "invalid choice"]),
        (["simulate", "--sessions", "many"], ["--sessions", "invalid int"]),
        (["simulate", "--sessions", "-1", "--db", db], ["--sessions"]),
        (["simulate"], ["--sessions", "required"]),
        (["simulate", "--sessions", "1", "--api", "not-a-url", "--db", db], ["--api"]),
        (["simulate", "--sessions", "1", "--poll-ms", "5", "--db", db], ["--poll-ms"]),
        (["simulate", "--sessions", "1", "--kiosk-id", "lower", "--db", db], ["--kiosk-id"]),
        (["sync", "--once", "--api", "ftp://x", "--db", db], ["--api"]),
        (["billing-server", "--port", "99999"], ["--port", "99999"]),
        (["billing-server", "--fault", "bogus"], ["--fault"]),
        (["billing-server", "settlement", "--db", db, "--kiosk-id", "KIOSK-1", "--date",
          "2026-02-30"], ["--date"]),
        (["devices", "--wait", "-1"], ["--wait"]),
        (["sim", "toaster"], ["toaster"]),
        (["sim", "printer", "--protocol", "id003"], ["id003"]),
        (["diag", "--wait", "-1", "--db", db], ["--wait"]),
        (["diag", "--self-test", "kettle"], ["--self-test"]),
        (["collect", "count", "B1", "--note", "lots", "--db", db], ["--note"]),
        (["staff", "add", "mt1", "--role", "boss"], ["--role"]),
        (["audit", "show", "--limit", "ten"], ["--limit"]),
        (["receipt", "verify", "not-a-receipt", "--state-dir", str(tmp)], ["receipt verify"]),
        (["run", "--config", broken], ["limits.max_tnx_minor"]),
    ]


def test_bad_input_is_one_line_and_exit_2(tmp_path, broken_config, capsys):
    failures = []
    for argv, words in bad_inputs(tmp_path, broken_config):
        code, _out, err = run(argv, capsys)
        lines = err.strip().splitlines()
        if code != 2 or len(lines) != 1 or not all(w in lines[0] for w in words) \
                or "Traceback" in err:
            failures.append((argv, code, err))
    assert failures == []


def test_bad_input_in_a_fresh_process_too(tmp_path):
    for argv, word in [(["queue", "status", "--db", "/nonexistent/dir/k.db"], "--db"),
                       (["report", "daily", "--date", "2026-02-30"], "does not exist"),
                       (["billing-server", "--fault", "bogus"], "--fault")]:
        proc = kiosk(*argv)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and word in lines[0], proc.stderr


def test_help_in_a_fresh_process():
    proc = kiosk("queue", "status", "--help")
    assert proc.returncode == 0 and "--db" in proc.stdout and proc.stderr == ""


def test_config_on_the_group_is_the_one_used(tmp_path, capsys):
    db = tmp_path / "from-file.db"
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'[kiosk]\ndb = "{db}"\n')
    code, out, err = run(["queue", "--config", str(cfg), "status", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["pending"] == 0 and db.exists()


def test_simulate_counts_payments_and_ratings_apart_and_keeps_state_beside_the_db(
        tmp_path, billing_server, capsys, monkeypatch, caplog):
    elsewhere = tmp_path / "elsewhere"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    caplog.set_level(logging.INFO, logger="kiosk.services.terminal")
    code, out, err = run(["simulate", "--sessions", "3", "--json", "--api", billing_server.url,
                          "--db", str(elsewhere / "k.db"), "--poll-ms", "20",
                          "--enrol-token", TEST_TOKEN], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["paid"] == 3 and report["delivered"] == 3 and report["pending"] == 0, report
    with sqlite3.connect(elsewhere / "k.db") as db:
        kinds = dict(db.execute("SELECT kind, count(*) FROM outbox GROUP BY kind").fetchall())
    assert report["delivered"] == kinds["payment"]
    assert report["ratings_delivered"] == kinds.get("rating", 0)
    assert list(cwd.iterdir()) == []  # nothing in the current folder
    assert (elsewhere / "devices" / "bill-validator.json").exists()
    start_ups = [r for r in caplog.records
                 if r.name == "kiosk.services.terminal" and "powered up" in r.getMessage()]
    assert start_ups and all(r.levelno == logging.INFO and "at start" in r.getMessage()
                             for r in start_ups), [r.getMessage() for r in start_ups]


def test_state_folder_follows_a_db_flag_but_not_the_files_db(tmp_path):
    from kiosk.cli.config_args import config

    cfg_file = tmp_path / "k.toml"
    cfg_file.write_text(f'[kiosk]\ndb = "{tmp_path / "file" / "k.db"}"\n')
    by_file = argparse.Namespace(config=str(cfg_file))
    assert config(by_file).kiosk.state_dir == "var/devices"  # where a configured terminal had it
    flag_db = str(tmp_path / "flag" / "k.db")
    assert config(by_file, db=flag_db).kiosk.state_dir == str(tmp_path / "flag" / "devices")
    assert config(by_file, db=flag_db, state_dir="st").kiosk.state_dir == "st"
    cfg_file.write_text('[kiosk]\nstate_dir = "mine"\n')
    assert config(by_file, db=flag_db).kiosk.state_dir == "mine"
