"""``kiosk diag``, ``kiosk report daily`` and ``kiosk collect``: staff work over SSH.

``kiosk diag`` opens the configured devices itself (the terminal must not be holding the ports)
and is a report: it exits 0 whatever it finds. Self-tests, reports and collections act for a
member of staff: ``--user`` and the PIN on stdin, checked against the role, audited.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from typing import Any, Callable

from kiosk.config import ConfigError

SELF_TESTS = ("printer", "validator", "coin", "card")
NOTE_ARG = re.compile(r"(\d+)=(\d+)")


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None],
             config: Callable[..., Any], add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add(sub, "diag", "device, API, queue, database and disk diagnostics", cmd_diag)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--api", help="billing API base URL (overrides billing.url)")
    p.add_argument("--wait", type=float, default=2.0, metavar="S",
                   help="seconds the devices get to come up (default 2)")
    p.add_argument("--self-test", action="append", default=[], choices=SELF_TESTS,
                   help="run a self-test (repeatable; printer/validator/coin need --user)")
    p.add_argument("--test-timeout", type=float, default=10.0, metavar="S",
                   help="seconds a self-test waits for a note, coin or card (default 10)")
    p.add_argument("--user", help="maintenance staff id (PIN from stdin) for self-tests")
    p.add_argument("--no-devices", action="store_true", help="skip opening the devices")
    p.add_argument("--log", metavar="FILE", help="show the last lines of this log file")
    p.add_argument("--lines", type=int, default=20, help="how many log lines (default 20)")

    report = sub.add_parser("report", help="reports").add_subparsers(dest="report_command",
                                                                      required=True)
    p = add(report, "daily", "the numbered daily report with three-way reconciliation",
            cmd_report_daily)
    p.add_argument("--date", help="YYYY-MM-DD, the kiosk's local date (default: today)")
    p.add_argument("--format", choices=["text", "json", "csv"], default="text")
    p.add_argument("--user", help="operator staff id (PIN from stdin)")
    p.add_argument("--api", help="billing API base URL (overrides billing.url)")
    p.add_argument("--preview", action="store_true",
                   help="do not number or record it (late arrivals stay for the next report)")
    p.add_argument("--print", action="store_true", help="also print it on the receipt printer")

    collect = sub.add_parser("collect", help="cash collection").add_subparsers(
        dest="collect_command", required=True)
    p = add(collect, "status", "batches (expected figures only once counted)", cmd_collect_status)
    p.add_argument("--user", help="operator staff id (PIN from stdin)")
    p.add_argument("--json", action="store_true")
    p = add(collect, "close", "close the open batch by hand (cash box report missed)",
            cmd_collect_close)
    p.add_argument("--user", help="operator staff id (PIN from stdin)")
    p = add(collect, "count", "enter the blind count of a closed batch", cmd_collect_count)
    p.add_argument("batch")
    p.add_argument("--note", action="append", default=[], metavar="FEN=COUNT",
                   help="counted notes of one denomination in fen, e.g. 10000=3 (repeatable)")
    p.add_argument("--user", help="operator staff id (PIN from stdin)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--print", action="store_true", help="print the collection receipt")
    p = add(collect, "receipt", "print a collection receipt again", cmd_collect_receipt)
    p.add_argument("batch")
    p.add_argument("--user", help="operator staff id (PIN from stdin)")


def _printer(cfg: Any) -> Any:
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


# ---------------------------------------------------------------- kiosk diag
def cmd_diag(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    from kiosk.cli_devices import list_ports
    from kiosk.cli_staff import login, open_console
    from kiosk.services.devices import open_device
    from kiosk.staff import selftest as st
    from kiosk.staff.api import BillingProbe
    from kiosk.staff.diag import tail_file, text_lines
    from kiosk.staff.probe import DeviceProbe

    if args.wait < 0 or args.test_timeout <= 0 or args.lines < 0:
        raise ConfigError("--wait, --test-timeout and --lines must be positive")
    console = open_console(args, config)
    cfg = console.config
    active = [t for t in SELF_TESTS if t in args.self_test]
    session = None
    if args.user or set(active) - {"card"}:
        session = login(console, args.user)  # printing a page or moving a note is staff work
    views: dict[str, Any] = {}
    results = []
    if not args.no_devices:
        probe = DeviceProbe(cfg, open_device)
        try:
            probe.start(args.wait)
            runs = {
                "printer": lambda: st.printer_test_page(probe.driver("printer"), cfg.kiosk.id),
                "validator": lambda: st.validator_accept_test(
                    probe.driver("bill_validator"), probe.wait_event,
                    cfg.limits.accepted_notes_minor, args.test_timeout),
                "coin": lambda: st.coin_test(probe.driver("coin_acceptor"), probe.wait_event,
                                             cfg.limits.accepted_coins_minor, args.test_timeout),
                "card": lambda: st.card_read_test("card_reader", probe.wait_event, args.test_timeout),
            }
            for name in active:
                run = _unless_missing(probe, name, runs[name])
                results.append(console.self_test(session, name, run) if session else run())
            views = probe.views()
        finally:
            probe.stop()
    billing = cfg.billing
    api = BillingProbe(billing.url, connect_timeout=min(billing.connect_timeout_s, 3.05),
                       read_timeout=min(billing.read_timeout_s, 5.0), tls=billing.tls()).health()
    report = console.diagnostics_report(
        views, api, results, ports=list_ports(),
        recent_log=tail_file(args.log, args.lines) if args.log else [])
    if session is not None:
        console.diagnostics_viewed(session, report["status"])
    print(json.dumps(report, ensure_ascii=False) if args.json else "\n".join(text_lines(report)))
    return 0


def _unless_missing(probe: Any, test: str, run: Callable[[], Any]) -> Callable[[], Any]:
    from kiosk.staff.diag import SELF_TEST_DEVICE
    from kiosk.staff.selftest import SelfTestResult

    device = SELF_TEST_DEVICE[test]
    # The card test only waits for the reader's event: it needs the reader configured, not a driver.
    if device not in probe.cfg.devices or (test != "card" and probe.driver(device) is None):
        return lambda: SelfTestResult(test, False, f"{device} is not available")
    return run


# ---------------------------------------------------------------- kiosk report daily
def _day(text: str | None) -> str:
    if text is None:
        return date.today().isoformat()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise ConfigError(f"--date: expected YYYY-MM-DD, got {text!r}")


def cmd_report_daily(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    from kiosk.cli_staff import login, open_console
    from kiosk.staff.api import BillingProbe
    from kiosk.staff.report_format import report_csv, report_lines

    day = _day(args.date)
    console = open_console(args, config)
    session = login(console, args.user)
    cfg = console.config
    if args.print:
        console.printer = _printer(cfg)
    probe = BillingProbe(cfg.billing.url, connect_timeout=cfg.billing.connect_timeout_s,
                         read_timeout=cfg.billing.read_timeout_s, tls=cfg.billing.tls())
    from kiosk.services.identity import signed

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
def cmd_collect_status(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    from kiosk.cli_staff import login, open_console
    from kiosk.staff.auth import Permission

    console = open_console(args, config)
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


def cmd_collect_close(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    from kiosk.cli_staff import login, open_console

    console = open_console(args, config)
    batch = console.close_batch(login(console, args.user))
    print(f"closed {batch.batch_id}: count it with `kiosk collect count {batch.batch_id}`"
          if batch else "the open batch is empty: nothing to close")
    return 0


def parse_counts(items: list[str]) -> dict[int, int]:
    counted: dict[int, int] = {}
    for item in items:
        m = NOTE_ARG.fullmatch(item.strip())
        if not m:
            raise ConfigError(f"--note: expected FEN=COUNT such as 10000=3, got {item!r}")
        counted[int(m[1])] = counted.get(int(m[1]), 0) + int(m[2])
    return counted


def cmd_collect_count(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    from kiosk.cli_staff import login, open_console

    counted = parse_counts(args.note)
    console = open_console(args, config)
    session = login(console, args.user)
    if args.print:
        console.printer = _printer(console.config)
    result, printed = console.submit_count(session, args.batch, counted)
    out = {**result.as_dict(), "printed": printed.ok, "print_error": printed.reason}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print("\n".join(result.receipt_job(console.config.kiosk.id).lines))
        if not printed.ok:
            print(f"(receipt not printed: {printed.reason})")
    return 0


def cmd_collect_receipt(args: argparse.Namespace, config: Callable[..., Any]) -> int:
    from kiosk.cli_staff import login, open_console

    console = open_console(args, config)
    session = login(console, args.user)
    console.printer = _printer(console.config)
    printed = console.reprint_collection(session, args.batch)
    print("printed" if printed.ok else f"not printed: {printed.reason}")
    return 0 if printed.ok else 1
