"""``kiosk queue status|requeue|archive`` and ``kiosk sync``: the offline queue seen and delivered from
the shell."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from kiosk.cli.config_args import common, config, db_option, enrol_option, open_db
from kiosk.cli.staff_access import login, open_console, staff_command, staff_printer, user_option
from kiosk.cli.terminal_link import ask_terminal, require_user

STATE_DIR_HELP = "the terminal's state directory, where its control socket is (overrides " \
                 "kiosk.state_dir)"


def register(sub: Any) -> None:
    q = sub.add_parser("queue", help="the offline queue")
    common(q)
    qsub = q.add_subparsers(dest="queue_command", required=True)
    p = qsub.add_parser("status", help="pending, in flight, delivered, dead, oldest age")
    common(p)
    db_option(p)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_queue_status)
    p = qsub.add_parser("requeue", help="send dead letters again (staff decision)")
    common(p)
    db_option(p)
    p.add_argument("key", nargs="?", help="one idempotency key (default: all dead letters)")
    p.add_argument("--state-dir", help=STATE_DIR_HELP)
    p.set_defaults(func=cmd_queue_requeue)
    p = staff_command(qsub, "readdress", "send a dead payment to the corrected account (a new "
                      "transaction naming the original; operator PIN from stdin)", cmd_readdress)
    p.add_argument("txn", help="the dead payment's transaction id (`kiosk queue status`)")
    p.add_argument("--account", required=True, help="the corrected 10-digit account number")
    user_option(p, "operator staff", required=True)
    p.add_argument("--print", action="store_true", help="print the slip (no terminal running)")
    p.add_argument("--state-dir", help=STATE_DIR_HELP)
    p = staff_command(qsub, "refund", "mark a dead payment for refund to the resident "
                      "(operator PIN from stdin)", cmd_refund)
    p.add_argument("txn", help="the dead payment's transaction id (`kiosk queue status`)")
    p.add_argument("--phone", help="the resident's phone number, to call them back")
    p.add_argument("--paid", action="store_true",
                   help="the resident has had the money back: the refund is settled")
    user_option(p, "operator staff", required=True)
    p.add_argument("--print", action="store_true", help="print the slip (no terminal running)")
    p.add_argument("--state-dir", help=STATE_DIR_HELP)
    p = qsub.add_parser("archive", help="move delivered, reported payments older than --keep-days"
                                        " to var/archive/YYYY-MM.db beside the database")
    common(p)
    db_option(p)
    p.add_argument("--keep-days", type=int, default=None, metavar="N",
                   help="payments younger than N days stay in the live database (default: the"
                        " config's [archive] keep_days, 90)")
    p.set_defaults(func=cmd_queue_archive)

    p = sub.add_parser("sync", help="deliver the queue to the billing API")
    common(p)
    p.add_argument("--once", action="store_true", help="one pass over everything pending, then exit")
    db_option(p)
    p.add_argument("--api", help="billing API base URL (overrides billing.url)")
    p.add_argument("--state-dir", help="where the kiosk key is (overrides kiosk.state_dir)")
    enrol_option(p)
    p.set_defaults(func=cmd_sync)


def cmd_queue_status(args: argparse.Namespace) -> int:
    from offline_queue.outbox import Outbox

    outbox = Outbox(open_db(args, config(args, db=args.db)))
    stats = outbox.stats().as_dict()
    if args.json:
        stats["dead_letters"] = outbox.dead_rows()
        print(json.dumps(stats, ensure_ascii=False))
    else:
        for key, value in stats.items():
            print(f"{key:24} {value}")
        for row in outbox.dead_rows():
            print(f"DEAD {row['kind']} {row['idem_key']} {row['amount_minor']} {row['last_error']}")
    return 0


def cmd_queue_requeue(args: argparse.Namespace) -> int:
    from offline_queue.outbox import Outbox

    answer = ask_terminal(args, "queue.requeue", key=args.key)
    if answer is not None:
        n = answer["requeued"]
    else:
        n = Outbox(open_db(args, config(args, db=args.db, state_dir=args.state_dir))
                   ).requeue_dead(args.key)
    print(f"requeued {n}")
    return 0 if n or not args.key else 1


def _resolved(answer: dict[str, Any] | None, local: Any) -> int:
    """Print a resolution from the running terminal's answer or done on the database."""
    if answer is not None:
        done, ok, reason = answer["resolution"], answer["printed"], answer["print_error"]
    else:
        done, printed = local()
        ok, reason = printed.ok, printed.reason
    if done["kind"] == "readdressed":
        print(f"{done['txn_id']} re-addressed to {done['new_account']} as {done['new_txn_id']}")
    else:
        print(f"{done['txn_id']} marked for refund; call back {done['phone']}")
    if not ok:
        print(f"kiosk: slip not printed: {reason}", file=sys.stderr)
    return 0


def _console_for(args: argparse.Namespace) -> tuple[Any, Any]:
    console = open_console(args)
    session = login(console, args.user)
    if args.print:
        console.printer = staff_printer(console.config)
    return console, session


def cmd_readdress(args: argparse.Namespace) -> int:
    answer = ask_terminal(args, "queue.readdress", user=require_user(args.user), txn=args.txn,
                          account=args.account)

    def local() -> Any:
        console, session = _console_for(args)
        return console.readdress_payment(session, args.txn, args.account)

    return _resolved(answer, local)


def cmd_refund(args: argparse.Namespace) -> int:
    from kiosk.config import ConfigError

    if args.paid:
        console = open_console(args)
        console.refunded(login(console, args.user), args.txn)
        print(f"{args.txn}: refund settled")
        return 0
    if not args.phone:
        raise ConfigError("--phone: the resident's phone number is needed (or --paid)")
    answer = ask_terminal(args, "queue.refund", user=require_user(args.user), txn=args.txn,
                          phone=args.phone)

    def local() -> Any:
        console, session = _console_for(args)
        return console.refund_payment(session, args.txn, args.phone)

    return _resolved(answer, local)


def _sync_printed(out: dict[str, Any]) -> int:
    print(json.dumps({k: out[k] for k in ("delivered", "retried", "dead", "pending", "fault")}))
    if out["fault"]:
        print(f"kiosk sync: billing server not trusted: {out['fault']}", file=sys.stderr)
        return 1
    return 0 if out["pending"] == 0 else 1


def cmd_queue_archive(args: argparse.Namespace) -> int:
    from kiosk.config import ConfigError
    from offline_queue.archive import Archiver
    from offline_queue.journal import payment_body_of

    if args.keep_days is not None and args.keep_days < 0:
        raise ConfigError("--keep-days: must be 0 or more")
    cfg = config(args, db=args.db)
    keep_days = cfg.archive.keep_days if args.keep_days is None else args.keep_days
    if args.keep_days is None and keep_days == 0:  # off in the config: only an explicit age
        print("archiving is off ([archive] keep_days = 0); --keep-days N moves now")
        return 0
    moved = Archiver(open_db(args, cfg), keep_days=keep_days,
                     rebuild=payment_body_of(cfg.kiosk.id)).run()
    for m in moved:
        print(f"{m.month} {m.payments} payments, {m.journal_rows} journal rows -> {m.path}")
    if not moved:
        print("nothing to archive")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from kiosk.services.identity import signed
    from offline_queue.outbox import Outbox
    from offline_queue.sync import SyncWorker, run_forever

    cfg = config(args, db=args.db, api=args.api, enrol_token=args.enrol_token,
                 state_dir=args.state_dir)
    if args.once:
        # A running terminal makes the pass itself (one sender per database at a time).
        answer = ask_terminal(args, "sync.once", timeout_s=120.0)
        if answer is not None:
            return _sync_printed(answer)
    outbox = Outbox(open_db(args, cfg, durable=False))  # delivery bookkeeping only
    outbox.release_in_flight()
    worker = SyncWorker(outbox, cfg.billing.url, connect_timeout=cfg.billing.connect_timeout_s,
                        read_timeout=cfg.billing.read_timeout_s, tls=cfg.billing.tls())
    signed(worker, cfg)
    if args.once:
        result = worker.run_once(ignore_backoff=True)
        stats = outbox.stats()
        return _sync_printed({"delivered": result.delivered, "retried": result.retried,
                              "dead": result.dead, "pending": stats.pending,
                              "fault": result.fault})
    try:
        run_forever(worker, threading.Event(), cfg.billing.sync_interval_s)
    except KeyboardInterrupt:
        pass
    return 0
