"""``kiosk staff``, ``kiosk audit`` and ``kiosk faults``: staff ids, the audit chain and the
locking faults. A refusal (wrong PIN, locked out, not allowed) is one line on stderr and exit
status 1."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from kiosk.cli.staff_access import (EXIT_REFUSED, login, open_console, read_pin, shell_actor,
                                    staff_command, staff_group, user_option)
from kiosk.cli.terminal_link import ask_terminal, require_user
from kiosk.config import ConfigError

CARD_WAIT_S = 30.0


def register(sub: Any) -> None:
    staff = staff_group(sub, "staff", "staff ids, roles and PINs")
    p = staff_command(staff, "add", "add a staff id (PIN from stdin)", cmd_staff_add)
    p.add_argument("user", help="the new staff id")
    p.add_argument("--role", required=True, choices=["maintenance", "operator"],
                   help="what the staff id may do")
    p = staff_command(staff, "passwd", "set a new PIN (from stdin)", cmd_staff_passwd)
    p.add_argument("user", help="the staff id whose PIN changes")
    p = staff_command(staff, "list", "staff ids, roles, lockout state", cmd_staff_list)
    p.add_argument("--json", action="store_true", help="one JSON list on stdout")
    p = staff_command(staff, "remove", "remove a staff id", cmd_staff_remove)
    p.add_argument("user", help="the staff id to remove")
    p = staff_command(staff, "card", "register a staff card: tap it on the reader", cmd_staff_card)
    p.add_argument("user", help="the staff id the card opens the PIN pad for")
    p.add_argument("--wait", type=float, default=CARD_WAIT_S, metavar="S",
                   help=f"seconds to wait for the tap (default {CARD_WAIT_S:g})")
    p.add_argument("--state-dir", help="the terminal's state directory, where the card key and "
                   "the control socket are (overrides kiosk.state_dir)")

    audit = staff_group(sub, "audit", "the hash-chained audit log")
    p = staff_command(audit, "verify", "check the chain; non-zero and the first bad entry if broken",
                      cmd_audit_verify)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    key_folder(p)
    key_folder(staff_command(audit, "rotate-key", "seal the entries from now on with a new audit "
                             "key (the old one is kept to verify older entries)",
                             cmd_audit_rotate_key))
    key_folder(staff_command(audit, "new-key", "the audit key is lost: start a new one (the "
                             "entries before are recorded as unverifiable)", cmd_audit_new_key))
    p = staff_command(audit, "show", "the latest entries", cmd_audit_show)
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="how many of the latest entries (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON list on stdout")

    faults = staff_group(sub, "faults", "faults that lock the terminal")
    p = staff_command(faults, "list", "active locking faults", cmd_faults_list)
    p.add_argument("--json", action="store_true", help="one JSON list on stdout")
    p.add_argument("--state-dir", help="the terminal's state directory, where its control "
                   "socket is (overrides kiosk.state_dir)")
    p = staff_command(faults, "clear", "clear a locking fault (staff PIN from stdin)",
                      cmd_faults_clear)
    p.add_argument("device", help="the faulted device, as `kiosk faults list` shows it")
    p.add_argument("code", help="the fault's code, as `kiosk faults list` shows it")
    user_option(p, required=True)
    p.add_argument("--state-dir", help="the terminal's state directory, where the journal's "
                   "high-water record and the control socket are (overrides kiosk.state_dir)")


def key_folder(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", help="the terminal's state directory, where keys/audit.key is "
                   "(overrides kiosk.state_dir; docs/security.md, The audit key)")


# ---------------------------------------------------------------- kiosk staff
def cmd_staff_add(args: argparse.Namespace) -> int:
    console = open_console(args, create=True)
    console.auth.add_user(args.user, args.role, read_pin("new PIN: ", confirm=True), shell_actor())
    print(f"added {args.user} ({args.role})")
    return 0


def cmd_staff_passwd(args: argparse.Namespace) -> int:
    console = open_console(args)
    console.auth.set_pin(args.user, read_pin("new PIN: ", confirm=True), shell_actor())
    print(f"PIN changed for {args.user}")
    return 0


def cmd_staff_list(args: argparse.Namespace) -> int:
    users = open_console(args).auth.users()
    if args.json:
        print(json.dumps(users, ensure_ascii=False))
        return 0
    for u in users:
        lock = f" locked {u['locked_for_s']} s" if u["locked_for_s"] else ""
        print(f"{u['user_id']:16} {u['role']:12} failed {u['failed_attempts']}{lock}")
    return 0


def cmd_staff_remove(args: argparse.Namespace) -> int:
    open_console(args).auth.remove_user(args.user, shell_actor())
    print(f"removed {args.user}")
    return 0


# ---------------------------------------------------------------- kiosk audit
def cmd_audit_verify(args: argparse.Namespace) -> int:
    result = open_console(args).audit.verify()
    if args.json:
        print(json.dumps(result.as_dict()))
    elif result.ok:
        print(f"audit chain intact: {result.count} entries, head {result.head}")
    else:
        print(f"audit chain BROKEN at entry #{result.first_bad}: {result.reason}")
    return 0 if result.ok else EXIT_REFUSED


def cmd_audit_rotate_key(args: argparse.Namespace) -> int:
    entry = open_console(args).audit.rotate_key(shell_actor())
    print(f"new audit key from entry #{entry.detail['from_seq']} (back up the key file: "
          "docs/security.md)")
    return 0


def cmd_audit_new_key(args: argparse.Namespace) -> int:
    audit = open_console(args).audit
    if not audit.ensure_key(shell_actor(), rekey=True):
        print("kiosk: the audit key is there: use `kiosk audit rotate-key`", file=sys.stderr)
        return EXIT_REFUSED
    print(f"new audit key {audit.keys.path}; entries up to #{audit.tip()[0] - 1} cannot be "
          "verified any more")
    return 0


def cmd_audit_show(args: argparse.Namespace) -> int:
    entries = open_console(args).audit.entries(limit=max(1, args.limit))
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], ensure_ascii=False))
        return 0
    for e in entries:
        print(f"#{e.seq:<6} {e.at} {e.actor:14} {e.role:12} {e.action:18} "
              f"{json.dumps(e.detail, ensure_ascii=False)}")
    return 0


# ---------------------------------------------------------------- kiosk faults
def cmd_faults_list(args: argparse.Namespace) -> int:
    answer = ask_terminal(args, "faults.list")
    faults = (answer["faults"] if answer is not None
              else [f.as_dict() for f in open_console(args).faults.active()])
    if args.json:
        print(json.dumps(faults, ensure_ascii=False))
        return 0
    for f in faults:
        print(f"{f['device']}/{f['code']}  since {f['raised_at']}  {f['reason']}")
    if not faults:
        print("no locking fault")
    return 0


def cmd_faults_clear(args: argparse.Namespace) -> int:
    answer = ask_terminal(args, "faults.clear", user=require_user(args.user),
                          device=args.device, code=args.code)
    if answer is not None:  # the running terminal cleared it and is back in service
        fault = answer["fault"]
        print(f"cleared {fault['device']}/{fault['code']} ({fault['reason']}) in the running "
              "terminal")
        return 0
    console = open_console(args)
    session = login(console, args.user)
    cleared = console.clear_fault(session, args.device, args.code)
    print(f"cleared {cleared.device}/{cleared.code} ({cleared.reason})")
    return 0


# ---------------------------------------------------------------- kiosk staff card
def cmd_staff_card(args: argparse.Namespace) -> int:
    if args.wait <= 0:
        raise ConfigError("--wait: must be more than 0 seconds")
    from kiosk.staff.errors import UnknownStaff

    console = open_console(args)
    if args.user not in {u["user_id"] for u in console.auth.users()}:
        raise UnknownStaff(f"no staff id {args.user!r}")
    print(f"tap the card for {args.user} on the reader ({args.wait:g} s)", flush=True)
    # A running terminal holds the reader: it takes the tap and stores the keyed hash itself.
    answer = ask_terminal(args, "card.register", timeout_s=args.wait, user_id=args.user,
                          by=shell_actor())
    if answer is None:
        uid = _read_card(console.config, args.wait)
        if uid is None:
            print("kiosk: no card was tapped", file=sys.stderr)
            return EXIT_REFUSED
        console.cards.register(args.user, uid, shell_actor())
    print(f"card registered for {args.user} (stored as a keyed hash)")
    return 0


def _read_card(cfg: Any, wait_s: float) -> str | None:
    """No terminal runs: the reader itself, opened for this one tap."""
    from drivers import interfaces as d
    from kiosk.services.devices import open_device
    from kiosk.staff.probe import DeviceProbe

    if "card_reader" not in cfg.devices:
        raise ConfigError("devices.card_reader: no card reader is configured")
    only = dataclasses.replace(cfg, devices={"card_reader": cfg.devices["card_reader"]})
    probe = DeviceProbe(only, open_device)
    try:
        probe.start(2.0)
        ev = probe.wait_event(lambda ev: isinstance(ev, d.CardPresented), wait_s)
    finally:
        probe.stop()
    return ev.card_uid if ev is not None else None
