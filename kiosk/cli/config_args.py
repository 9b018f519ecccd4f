"""What every ``kiosk`` command shares: the one-line parser, ``--config``/``-v``, and loading the
configuration with the command line's overrides through the same checks as the file.

Bad input is one line on stderr and exit status 2 (docs/architecture.md, Command line).
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any, NoReturn

from kiosk.config import DEFAULT_DEVICES, Config, ConfigError, config_with, load_raw

EXIT_BAD_INPUT = 2
EXIT_LOCKED = 3  # the terminal is out of service until staff clear a locking fault

#: command-line override → (the config key it sets, its flag); checked exactly like the file
OVERRIDES = {"db": ("kiosk.db", "--db"), "kiosk_id": ("kiosk.id", "--kiosk-id"),
             "state_dir": ("kiosk.state_dir", "--state-dir"), "api": ("billing.url", "--api"),
             "enrol_token": ("billing.enrol_token", "--enrol-token"),
             "gateway": ("gateway.url", "--gateway"), "merchant": ("gateway.merchant", "--merchant"),
             "gateway_token": ("gateway.enrol_token", "--gateway-token")}
#: the state folder beside a ``--db`` database when neither the file nor a flag names one
STATE_BESIDE_DB = "devices"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming the command, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def common(p: argparse.ArgumentParser) -> None:
    """``--config`` and ``-v`` on a command or group. SUPPRESS keeps a value given on the group
    (``kiosk queue --config F status``) from being reset by the subcommand's own default."""
    p.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                   help="TOML configuration (defaults: README, Configuration)")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="log at debug level")


def enrol_option(p: argparse.ArgumentParser, help_: str | None = None) -> None:
    p.add_argument("--enrol-token", metavar="TOKEN",
                   help=help_ or "enrol this kiosk's key with the billing server on first "
                                 "contact (overrides billing.enrol_token; README: enrolment)")


def db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH", help="journal database (overrides kiosk.db)")


def config(args: argparse.Namespace, **overrides: Any) -> Config:
    """The file's config with the given overrides (None: not given) through the same checks.

    With ``--db`` and without ``kiosk.state_dir`` in the file or ``--state-dir``, the state goes
    in a folder beside that database, so ``--db /elsewhere/k.db`` leaves nothing in the current
    folder."""
    raw = load_raw(getattr(args, "config", None))
    values: dict[str, tuple[str, Any]] = {}
    for name, value in overrides.items():
        if value is None:
            continue
        if name == "poll_ms":
            values.update({f"devices.{dev}.poll_interval_ms": ("--poll-ms", value)
                           for dev in DEFAULT_DEVICES})
        else:
            key, flag = OVERRIDES[name]
            values[key] = (flag, value)
    kiosk_table = raw.get("kiosk")
    state_in_file = isinstance(kiosk_table, dict) and "state_dir" in kiosk_table
    if "kiosk.db" in values and not state_in_file and "kiosk.state_dir" not in values:
        # Only a --db given here moves it: a terminal configured by file keeps its key and
        # high-water record where they have always been (a missing record locks, docs/promises.md).
        flag, db = values["kiosk.db"]
        values["kiosk.state_dir"] = (flag, str(Path(db).parent / STATE_BESIDE_DB))
    return config_with(raw, values)


def db_source(args: argparse.Namespace) -> str:
    """How to name the database in an error: the flag when it was given, else the config key."""
    return "--db" if getattr(args, "db", None) else "kiosk.db"


def open_db(args: argparse.Namespace, cfg: Config, durable: bool = True,
            create: bool = False) -> Any:
    """The configured journal database; an unopenable file is ConfigError naming the option and
    the path. ``create``: a command that sets a terminal up makes the folders (0700) it needs;
    any other command on a missing folder says so (a typo must not start a new database).
    A database or key file others can read is refused (docs/security.md, Files)."""
    from kiosk.services.identity import refuse_shared
    from offline_queue.schema import connect

    path = Path(cfg.kiosk.db)
    name = db_source(args)
    if not path.parent.is_dir() and not create:
        raise ConfigError(f"{name}: folder {path.parent} does not exist (database {path})")
    refuse_shared(cfg)
    try:
        return connect(path, durable=durable)
    except (OSError, sqlite3.DatabaseError) as exc:
        raise ConfigError(f"{name}: cannot open database {path}: {exc}") from None
