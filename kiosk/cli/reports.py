"""``kiosk report daily`` and ``kiosk collect``: the operator's books over SSH. Both act for a
member of staff: ``--user`` and the PIN on stdin, checked against the role, audited."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from typing import Any

from kiosk.cli.staff_access import (login, open_console, staff_command, staff_group,
                                    staff_printer, user_option)
from kiosk.cli.terminal_link import ask_terminal, require_user
from kiosk.config import ConfigError

NOTE_ARG = re.compile(r"(\d+)=(\d+)")
DAY_ARG = re.compile(r"\d{4}-\d{2}-\d{2}")


def register(sub: Any) -> None:
    report = staff_group(sub, "report", "reports")
    p = staff_command(report, "daily", "the numbered daily report with three-way reconciliation",
                      cmd_report_daily)
    p.add_argument("--date", help="YYYY-MM-DD, the kiosk's local date (default: today)")
    p.add_argument("--format", choices=["text", "json", "csv"], default="text",
                   help="text (default), one JSON object, or CSV")
    user_option(p, "operator staff")
    p.add_argument("--api", help="billing API base URL (overrides billing.url)")
    p.add_argument("--preview", action="store_true",
                   help="do not number or record it (late arrivals stay for the next report)")
    p.add_argument("--print", action="store_true", help="also print it on the receipt printer")

    collect = staff_group(sub, "collect", "cash collection")
    p = staff_command(collect, "status", "batches (expected figures only once counted)",
                      cmd_collect_status)
    user_option(p, "operator staff")
    p.add_argument("--json", action="store_true", help="one JSON list on stdout")
    p = staff_command(collect, "close", "close the open batch by hand (cash box report missed)",
                      cmd_collect_close)
    user_option(p, "operator staff")
    p = staff_command(collect, "count", "enter the blind count of a closed batch", cmd_collect_count)
    p.add_argument("batch", help="the closed batch's id (`kiosk collect status`)")
    p.add_argument("--note", action="append", default=[], metavar="FEN=COUNT",
                   help="counted notes of one denomination in fen, e.g. 10000=3 (repeatable)")
    user_option(p, "operator staff")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--print", action="store_true", help="print the collection receipt")
    p = staff_command(collect, "receipt", "print a collection receipt again", cmd_collect_receipt)
    p.add_argument("batch", help="the counted batch's id (`kiosk collect status`)")
    user_option(p, "operator staff")


# ---------------------------------------------------------------- kiosk report daily
def parse_day(text: str | None) -> str:
    """``--date``: a well-formed day that exists; today without one."""
    if text is None:
        return date.today().isoformat()
    if not DAY_ARG.fullmatch(text):
        raise ConfigError(f"--date: expected YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise ConfigError(f"--date: {text} does not exist ({exc})") from None


def cmd_report_daily(args: argparse.Namespace) -> int:
    from kiosk.services.identity import signed
    from kiosk.staff.billing_queries import BillingProbe
    from kiosk.staff.report_format import report_csv, report_lines

    day = parse_day(args.date)
    console = open_console(args)
    session = login(console, args.user)
    cfg = console.config
    if args.print:
        console.printer = staff_printer(cfg)
    probe = BillingProbe(cfg.billing.url, connect_timeout=cfg.billing.connect_timeout_s,
                         read_timeout=cfg.billing.read_timeout_s, tls=cfg.billing.tls())
    signed(probe, cfg)  # the settlement is the kiosk's own: a signed request
    report, printed = console.daily_report(session, day, probe=probe, issue=not args.preview,
                                           print_it=args.print)
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False))
    elif args.format == "csv":
        print(report_csv(report), end="")
    else:
        print("\n".join(report_lines(report)))
    if printed is not None and not printed.ok:
        print(f"kiosk: report not printed: {printed.reason}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- kiosk collect
def cmd_collect_status(args: argparse.Namespace) -> int:
    from kiosk.staff.auth import Permission

    answer = ask_terminal(args, "collect.status", user=require_user(args.user))
    if answer is not None:
        batches = answer["batches"]
    else:
        console = open_console(args)
        session = login(console, args.user)
        console.auth.check(session, Permission.COLLECT_CASH, "collect cash")
        batches = console.collections.batches()
    if args.json:
        print(json.dumps(batches, ensure_ascii=False))
        return 0
    for b in batches:
        extra = (f" counted {b['counted_minor']} variance {b['variance_minor']}"
                 if b["state"] == "COUNTED" else "")
        print(f"{b['batch_id']:24} {b['state']:8} {b['opened_at']} .. {b['closed_at'] or ''}{extra}")
    return 0


def cmd_collect_close(args: argparse.Namespace) -> int:
    answer = ask_terminal(args, "collect.close", user=require_user(args.user))
    if answer is not None:
        batch_id = answer["batch_id"]
    else:
        console = open_console(args)
        batch = console.close_batch(login(console, args.user))
        batch_id = batch.batch_id if batch else None
    print(f"closed {batch_id}: count it with `kiosk collect count {batch_id}`"
          if batch_id else "the open batch is empty: nothing to close")
    return 0


def parse_counts(items: list[str]) -> dict[int, int]:
    counted: dict[int, int] = {}
    for item in items:
        m = NOTE_ARG.fullmatch(item.strip())
        if not m:
            raise ConfigError(f"--note: expected FEN=COUNT such as 10000=3, got {item!r}")
        counted[int(m[1])] = counted.get(int(m[1]), 0) + int(m[2])
    return counted


def cmd_collect_count(args: argparse.Namespace) -> int:
    counted = parse_counts(args.note)
    # The running terminal prints on its own printer (it holds the port); --print is moot there.
    answer = ask_terminal(args, "collect.count", user=require_user(args.user), batch=args.batch,
                          counted={str(k): v for k, v in counted.items()})
    if answer is not None:
        out = {**answer["result"], "printed": answer["printed"],
               "print_error": answer["print_error"]}
        lines, printed_ok, reason = answer["lines"], answer["printed"], answer["print_error"]
    else:
        console = open_console(args)
        session = login(console, args.user)
        if args.print:
            console.printer = staff_printer(console.config)
        result, printed = console.submit_count(session, args.batch, counted)
        out = {**result.as_dict(), "printed": printed.ok, "print_error": printed.reason}
        lines = list(result.receipt_job(console.config.kiosk.id).lines)
        printed_ok, reason = printed.ok, printed.reason
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print("\n".join(lines))
        if not printed_ok:
            print(f"(receipt not printed: {reason})")
    return 0


def cmd_collect_receipt(args: argparse.Namespace) -> int:
    answer = ask_terminal(args, "collect.receipt", user=require_user(args.user), batch=args.batch)
    if answer is not None:
        ok, reason = answer["printed"], answer["print_error"]
    else:
        console = open_console(args)
        session = login(console, args.user)
        console.printer = staff_printer(console.config)
        printed = console.reprint_collection(session, args.batch)
        ok, reason = printed.ok, printed.reason
    print("printed" if ok else f"not printed: {reason}")
    return 0 if ok else 1
