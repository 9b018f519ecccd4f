"""What the staff commands share: a staff subcommand with ``--db``, the PIN from stdin, the
console on the configured database, and refusals as one line with exit status 1.

PINs are read from stdin: without echo on a terminal, one plain line otherwise (scripts, tests).
Commands that act for a member of staff take ``--user`` and check that user's PIN and role;
managing staff ids needs only the shell account (it is audited under that account's name).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, Callable

from kiosk.cli.config_args import common, config, db_option, open_db
from kiosk.config import ConfigError

EXIT_REFUSED = 1


def staff_command(parent: Any, name: str, help_: str,
                  fn: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """A subcommand that works on the journal database, its refusals guarded."""
    p = parent.add_parser(name, help=help_)
    common(p)
    db_option(p)
    p.set_defaults(func=lambda args: guarded(fn, args))
    return p


def staff_group(sub: Any, name: str, help_: str) -> Any:
    """A command group (``kiosk staff``, ``kiosk audit`` …) taking ``--config`` itself too."""
    group = sub.add_parser(name, help=help_)
    common(group)
    return group.add_subparsers(dest=f"{name}_command", required=True)


def user_option(p: argparse.ArgumentParser, role: str = "staff", required: bool = False) -> None:
    p.add_argument("--user", required=required, help=f"{role} id (its PIN is read from stdin)")


def guarded(fn: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Staff refusals become one line and exit status 1 (bad input stays ConfigError, 2)."""
    from kiosk.staff.errors import StaffError

    try:
        return fn(args)
    except StaffError as exc:
        print(f"kiosk: {exc.code}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from None


def read_pin(prompt: str, confirm: bool = False) -> str:
    if sys.stdin.isatty():
        pin = getpass.getpass(prompt)
        if confirm and getpass.getpass("again: ") != pin:
            raise ConfigError("the two PINs differ")
        return pin
    line = sys.stdin.readline()
    if not line:
        raise ConfigError("no PIN on stdin")
    return line.rstrip("\r\n")


def shell_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:?"


def open_console(args: argparse.Namespace, create: bool = False, **options: Any) -> Any:
    """A StaffConsole (it holds the config) on the configured database; ``create``: its folders
    are made if missing (``kiosk staff add`` sets up a new terminal)."""
    from kiosk.staff.console import StaffConsole
    from offline_queue.journal import Journal

    cfg = config(args, db=getattr(args, "db", None), api=getattr(args, "api", None),
                 state_dir=getattr(args, "state_dir", None))
    db = open_db(args, cfg, create=create)
    options.setdefault("idle_timeout_s", cfg.staff.idle_timeout_s)
    return StaffConsole(db, cfg, Journal(db, cfg.kiosk.id), **options)


def login(console: Any, user: str | None) -> Any:
    if not user:
        raise ConfigError("--user: the staff id to act as (its PIN is read from stdin)")
    return console.login(user, read_pin(f"PIN for {user}: "))


def staff_printer(cfg: Any) -> Any:
    """The configured receipt printer for a staff print-out, or None (said on stderr)."""
    from drivers.errors import DriverError
    from kiosk.services.devices import open_device

    dev = cfg.devices.get("printer")
    if dev is None or dev.url.startswith("sim://"):
        print("kiosk: no printer to print on (sim:// printers live in the terminal)", file=sys.stderr)
        return None
    try:
        return open_device("printer", dev)
    except (DriverError, OSError) as exc:
        print(f"kiosk: printer not available: {exc}", file=sys.stderr)
        return None
