"""``kiosk queue status|requeue|archive`` and ``kiosk sync``: the offline queue seen and delivered from
the shell."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from kiosk.cli.config_args import common, config, db_option, enrol_option, open_db


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
    p.set_defaults(func=cmd_queue_requeue)
    p = qsub.add_parser("archive", help="move delivered, reported payments older than --keep-days"
                                        " to var/archive/YYYY-MM.db beside the database")
    common(p)
    db_option(p)
    p.add_argument("--keep-days", type=int, default=90, metavar="N",
                   help="payments younger than N days stay in the live database (default 90)")
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

    n = Outbox(open_db(args, config(args, db=args.db))).requeue_dead(args.key)
    print(f"requeued {n}")
    return 0 if n or not args.key else 1


def cmd_queue_archive(args: argparse.Namespace) -> int:
    from kiosk.config import ConfigError
    from offline_queue.archive import Archiver

    if args.keep_days < 0:
        raise ConfigError("--keep-days: must be 0 or more")
    moved = Archiver(open_db(args, config(args, db=args.db)), keep_days=args.keep_days).run()
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
    outbox = Outbox(open_db(args, cfg, durable=False))  # delivery bookkeeping only
    outbox.release_in_flight()
    worker = SyncWorker(outbox, cfg.billing.url, connect_timeout=cfg.billing.connect_timeout_s,
                        read_timeout=cfg.billing.read_timeout_s, tls=cfg.billing.tls())
    signed(worker, cfg)
    if args.once:
        result = worker.run_once(ignore_backoff=True)
        stats = outbox.stats()
        print(json.dumps({"delivered": result.delivered, "retried": result.retried,
                          "dead": result.dead, "pending": stats.pending, "fault": result.fault}))
        if result.fault:
            print(f"kiosk sync: billing server not trusted: {result.fault}", file=sys.stderr)
            return 1
        return 0 if stats.pending == 0 else 1
    try:
        run_forever(worker, threading.Event(), cfg.billing.sync_interval_s)
    except KeyboardInterrupt:
        pass
    return 0
