"""``kiosk demo --headless``: the reference billing server and the terminal on simulated devices,
a few scripted resident sessions, every screen change logged, then the server's settlement."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date

import requests

from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from billing_server.server import BillingServer
from drivers.transport import SimulatorHub
from kiosk.flow.money import format_minor
from kiosk.services.identity import kiosk_auth
from kiosk.services.simulate import run_sessions
from kiosk.services.terminal import HeadlessTerminal


def run_demo(args: argparse.Namespace) -> int:
    from kiosk.__main__ import _config

    if not args.headless and not os.environ.get("DISPLAY"):
        print("no display here: running the terminal headless (kiosk demo --headless)")
    os.makedirs("var/demo", mode=0o700, exist_ok=True)
    server = BillingServer("127.0.0.1", 0, "var/demo/billing-server.db",
                           enrol_token=getattr(args, "enrol_token", None)).start()
    # The demo's terminal enrols with the token its own server took: no configuration.
    cfg = _config(args, db="var/demo/kiosk.db", api=server.url, state_dir="var/demo/devices",
                  enrol_token=server.enrol_token)
    os.makedirs(cfg.kiosk.state_dir, exist_ok=True)
    print(f"reference billing server on {server.url}; terminal {cfg.kiosk.id}; journal {cfg.kiosk.db}")
    term = HeadlessTerminal(cfg, SimulatorHub(cfg.kiosk.state_dir))
    try:
        term.start()
        term.runner.on_change.append(_printer())
        cards = {acct: uid for uid, acct in DEMO_CARDS.items()}
        accounts = [(a.account_no, cards.get(a.account_no)) for a in DEMO_ACCOUNTS]
        report = run_sessions(term, args.sessions, accounts)
    finally:
        term.stop()
    with requests.Session() as http:
        http.auth = kiosk_auth(cfg)  # a kiosk reads its own settlement, signed
        settlement = http.get(f"{server.url}/v1/kiosks/{cfg.kiosk.id}/settlement",
                              params={"date": date.today().isoformat()}, timeout=5).json()
    server.stop()
    print(f"paid {report.paid} of {report.sessions} sessions, {format_minor(report.paid_minor)}; "
          f"queue: {report.delivered} delivered, {report.pending} pending, {report.dead} dead")
    print(f"server settlement for today: {settlement['count']} payments, "
          f"{format_minor(settlement['total_minor'])}")
    print(json.dumps(report.as_dict(), ensure_ascii=False))
    sys.stdout.flush()
    return 0 if report.failed == 0 else 1


def _printer():
    last = {"phase": None, "credited": 0}

    def show(session) -> None:
        if session.phase != last["phase"] or session.credited_minor != last["credited"]:
            extra = f" inserted {format_minor(session.credited_minor)}" if session.credited_minor else ""
            msg = f" ({session.message})" if session.message else ""
            print(f"  screen: {session.phase.value:14}{extra}{msg}")
            last["phase"], last["credited"] = session.phase, session.credited_minor

    return show
