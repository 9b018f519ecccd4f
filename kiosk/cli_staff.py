"""Staff commands (issue #5): ``kiosk staff``, ``kiosk audit``, ``kiosk faults`` here; ``kiosk
diag``, ``kiosk report`` and ``kiosk collect`` in kiosk.staff.cli_ops.

PINs are read from stdin: without echo on a terminal, one plain line otherwise (scripts, tests).
Commands that act for a member of staff take ``--user`` and check that user's PIN and role;
managing staff ids needs only the shell account (it is audited under that account's name).
A refusal (wrong PIN, locked out, not allowed) is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any, Callable

from kiosk.config import ConfigError

EXIT_REFUSED = 1


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None], config: Callable[..., Any]) -> None:
    """Add the staff commands to the ``kiosk`` parser."""
    def add(parent: Any, name: str, help_: str, fn: Callable[..., int]) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_)
        common(p)
        p.add_argument("--db", help="journal database (default: from config)")
        p.set_defaults(func=lambda args: guarded(fn, args, config))
        return p

    staff = sub.add_parser("staff", help="staff ids, roles and PINs").add_subparsers(
        dest="staff_command", required=True)
    p = add(staff, "add", "add a staff id (PIN from stdin)", cmd_staff_add)
    p.add_argument("user")
    p.add_argument("--role", required=True, choices=["maintenance", "operator"])
    p = add(staff, "passwd", "set a new PIN (from stdin)", cmd_staff_passwd)
    p.add_argument("user")
    p = add(staff, "list", "staff ids, roles, lockout state", cmd_staff_list)
    p.add_argument("--json", action="store_true")
    p = add(staff, "remove", "remove a staff id", cmd_staff_remove)
    p.add_argument("user")

    audit = sub.add_parser("audit", help="the hash-chained audit log").add_subparsers(
        dest="audit_command", required=True)
    p = add(audit, "verify", "check the chain; non-zero and the first bad entry if broken",
            cmd_audit_verify)
    p.add_argument("--json", action="store_true")
    p = add(audit, "show", "the latest entries", cmd_audit_show)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    faults = sub.add_parser("faults", help="faults that lock the terminal").add_subparsers(
        dest="faults_command", required=True)
    p = add(faults, "list", "active locking faults", cmd_faults_list)
    p.add_argument("--json", action="store_true")
    p = add(faults, "clear", "clear a locking fault (staff PIN from stdin)", cmd_faults_clear)
    p.add_argument("device")
    p.add_argument("code")
    p.add_argument("--user", required=True, help="staff id (its PIN is read from stdin)")
    p.add_argument("--state-dir", help="the terminal's state directory, where the journal's "
                   "high-water record is (overrides kiosk.state_dir)")

    from kiosk.staff import cli_ops

    cli_ops.register(sub, common, config, add)


def guarded(fn: Callable[..., int], args: argparse.Namespace, config: Callable[..., Any]) -> int:
    """Staff refusals become one line and exit status 1 (bad input stays ConfigError, 2)."""
    from kiosk.staff.errors import StaffError

    try:
        return fn(args, config)
    except StaffError as exc:
        print(f"kiosk: {exc.code}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from None


# ---------------------------------------------------------------- shared helpers
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


def open_console(args: argparse.Namespace, config: Callable[..., Any], **options: Any) -> Any:
    """The config and a StaffConsole on the configured database."""
    from kiosk.staff.console import StaffConsole
    from offline_queue.journal import Journal
    from offline_queue.schema import connect

    cfg = config(args, db=getattr(args, "db", None), api=getattr(args, "api", None),
                 state_dir=getattr(args, "state_dir", None))
    db = connect(cfg.kiosk.db)
    return StaffConsole(db, cfg, Journal(db, cfg.kiosk.id), **options)


def login(console: Any, user: str | None) -> Any:
    if not user:
        raise ConfigError("--user: the staff id to act as (its PIN is read from stdin)")
    return console.login(user, read_pin(f"PIN for {user}: "))


# ---------------------------------------------------------------- kiosk staff
def cmd_staff_add(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    console = open_console(args, config)
    console.auth.add_user(args.user, args.role, read_pin("new PIN: ", confirm=True), shell_actor())
    print(f"added {args.user} ({args.role})")
    return 0


def cmd_staff_passwd(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    console = open_console(args, config)
    console.auth.set_pin(args.user, read_pin("new PIN: ", confirm=True), shell_actor())
    print(f"PIN changed for {args.user}")
    return 0


def cmd_staff_list(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    users = open_console(args, config).auth.users()
    if args.json:
        print(json.dumps(users, ensure_ascii=False))
        return 0
    for u in users:
        lock = f" locked {u['locked_for_s']} s" if u["locked_for_s"] else ""
        print(f"{u['user_id']:16} {u['role']:12} failed {u['failed_attempts']}{lock}")
    return 0


def cmd_staff_remove(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    open_console(args, config).auth.remove_user(args.user, shell_actor())
    print(f"removed {args.user}")
    return 0


# ---------------------------------------------------------------- kiosk audit
def cmd_audit_verify(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    result = open_console(args, config).audit.verify()
    if args.json:
        print(json.dumps(result.as_dict()))
    elif result.ok:
        print(f"audit chain intact: {result.count} entries, head {result.head}")
    else:
        print(f"audit chain BROKEN at entry #{result.first_bad}: {result.reason}")
    return 0 if result.ok else EXIT_REFUSED


def cmd_audit_show(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    entries = open_console(args, config).audit.entries(limit=max(1, args.limit))
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], ensure_ascii=False))
        return 0
    for e in entries:
        print(f"#{e.seq:<6} {e.at} {e.actor:14} {e.role:12} {e.action:18} "
              f"{json.dumps(e.detail, ensure_ascii=False)}")
    return 0


# ---------------------------------------------------------------- kiosk faults
def cmd_faults_list(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    faults = open_console(args, config).faults.active()
    if args.json:
        print(json.dumps([f.as_dict() for f in faults], ensure_ascii=False))
        return 0
    for f in faults:
        print(f"{f.device}/{f.code}  since {f.raised_at}  {f.reason}")
    if not faults:
        print("no locking fault")
    return 0


def cmd_faults_clear(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    console = open_console(args, config)
    session = login(console, args.user)
    fault = console.clear_fault(session, args.device, args.code)
    print(f"cleared {fault.device}/{fault.code} ({fault.reason})")
    return 0
