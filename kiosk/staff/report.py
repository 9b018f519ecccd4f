"""The daily report: a numbered report of one kiosk-local day — transactions, totals
by tender and denomination, online vs offline-queued, pending and dead letters, collections,
and the three-way reconciliation device counters ⟷ journal ⟷ the billing API's settlement with
every mismatch listed by transaction id.

Issuing a report records which payments it covered and whether the server had them. A payment
reported undelivered and delivered afterwards is listed once, under the next report's late
arrivals, so nothing delivered late goes unreported.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from sqlite_utils import Database

from kiosk.staff.audit import immediate
from offline_queue.archive import archived_payments_on

UNDELIVERED = ("PENDING", "IN_FLIGHT")


def _tally(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    rows = list(rows)
    return {"count": len(rows), "total_minor": sum(r["amount_minor"] for r in rows)}


def _denoms(counter: Counter[int]) -> dict[str, int]:
    return {str(d): n for d, n in sorted(counter.items(), reverse=True)}


class DailyReports:
    def __init__(self, db: Database, kiosk_id: str,
                 clock: Callable[[], datetime] | None = None,
                 resolutions: Callable[[str], dict[str, Any]] | None = None) -> None:
        self.db = db
        self.kiosk_id = kiosk_id
        self.clock = clock or (lambda: datetime.now().astimezone())
        #: dead, re-addressed and refund-pending payments for a day (kiosk.staff.resolutions)
        self.resolutions = resolutions

    # ---------------------------------------------------------------- reading the books
    def _payments(self, day: str) -> list[dict[str, Any]]:
        rows = list(self.db.query(
            "SELECT p.txn_id, p.amount_minor, p.notes, p.coins, p.created_at, p.offline,"
            " p.recovered, CASE WHEN r.kind = 'readdressed' THEN 'READDRESSED'"
            " ELSE coalesce(o.state, 'MISSING') END AS state, o.last_error"
            " FROM payments p LEFT JOIN outbox o ON o.idem_key = p.txn_id"
            " LEFT JOIN payment_resolutions r ON r.txn_id = p.txn_id"
            " WHERE p.local_date = ? ORDER BY p.created_at, p.txn_id", [day]))
        # A day moved to its monthly archive is reported from there (offline_queue/archive.py).
        moved = [{k: r[k] for k in ("txn_id", "amount_minor", "notes", "coins", "created_at",
                                    "offline", "recovered", "state", "last_error")}
                 for r in archived_payments_on(self.db, day)]
        if moved:
            rows = sorted(rows + moved, key=lambda r: (r["created_at"], r["txn_id"]))
        for r in rows:
            r["notes"], r["coins"] = json.loads(r["notes"]), json.loads(r["coins"])
        return rows

    def _late_arrivals(self) -> list[dict[str, Any]]:
        """Reported undelivered by an earlier report, delivered since, not listed yet."""
        return list(self.db.query(
            "SELECT r.txn_id, p.local_date AS date, p.amount_minor, r.report_seq AS reported_in,"
            # From the rows still waiting to be listed (CROSS JOIN keeps them the outer loop:
            # otherwise the planner walks every delivered outbox row; SQLite documentation,
            # "The SQLite Query Optimizer Overview", manual control of join order).
            " o.delivered_at FROM reported_payments r INDEXED BY reported_waiting"
            " CROSS JOIN payments p ON p.txn_id = r.txn_id"
            " CROSS JOIN outbox o ON o.idem_key = r.txn_id"
            " WHERE r.delivered = 0 AND r.late_seq IS NULL"
            " AND o.state = 'DELIVERED' ORDER BY o.delivered_at, r.txn_id"))

    def _flags(self, day: str) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT id, session_id, kind, detail, value_minor, at, resolved_at FROM flags"
            " WHERE substr(at, 1, 10) = ? ORDER BY id", [day]))

    def _queue(self) -> dict[str, Any]:
        # Kept by triggers per state (offline_queue/schema.py v5): no walk over delivered rows.
        counts = dict(self.db.execute("SELECT state, n FROM outbox_counts").fetchall())
        dead = list(self.db.query(
            "SELECT kind, idem_key, amount_minor, status_code, last_error FROM outbox"
            " WHERE state = 'DEAD' ORDER BY id"))
        return {"pending": counts.get("PENDING", 0) + counts.get("IN_FLIGHT", 0),
                "dead": counts.get("DEAD", 0), "dead_letters": dead}

    def _requests(self, day: str) -> dict[str, int]:
        """A day's service requests and e-bill sign-ups by kind (kiosk/flow/services_menu.py),
        read through their partial index (offline_queue/schema_steps.py v9)."""
        rows = self.db.execute(
            "SELECT CASE kind WHEN 'ebill' THEN 'ebill' ELSE json_extract(body, '$.kind') END,"
            " count(*) FROM outbox INDEXED BY outbox_requests_by_time"
            " WHERE kind IN ('service_request', 'ebill')"
            " AND date(created_at, 'unixepoch', 'localtime') = ? GROUP BY 1", [day]).fetchall()
        return {str(k): n for k, n in rows}

    # ---------------------------------------------------------------- the report
    def build(self, day: str, settlement: Mapping[str, Any] | None = None,
              settlement_error: str = "", collections: Iterable[Mapping[str, Any]] = (),
              device_open_batch: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The report for ``day`` (YYYY-MM-DD, kiosk-local) without recording it (seq None).
        ``settlement``: the server's answer, or None with ``settlement_error`` saying why.
        ``device_open_batch``: {batch_id, device: {denom: n}, journal: {denom: n}} when the
        validator's counters can be read live (the app), for the batch still in the cash box."""
        listed = self._payments(day)
        # A re-addressed payment's money is counted once, under its new transaction: the
        # original stays listed (state READDRESSED) but out of the totals.
        pays = [p for p in listed if p["state"] != "READDRESSED"]
        notes: Counter[int] = Counter()
        coins: Counter[int] = Counter()
        for p in pays:
            notes.update({int(k): v for k, v in p["notes"].items()})
            coins.update({int(k): v for k, v in p["coins"].items()})
        collections = [dict(c) for c in collections]
        mismatches = self._server_mismatches(pays, settlement, settlement_error)
        mismatches += _device_mismatches(collections, device_open_batch)
        server = None
        if settlement is not None:
            server = {"reachable": True, "count": settlement["count"],
                      "total_minor": settlement["total_minor"]}
        else:
            server = {"reachable": False, "error": settlement_error or "not asked"}
        delivered = [p for p in pays if p["state"] == "DELIVERED"]
        return {
            "seq": None,
            "kiosk_id": self.kiosk_id,
            "date": day,
            "generated_at": self.clock().isoformat(timespec="seconds"),
            **_tally(pays),
            "by_tender": {"note": sum(d * n for d, n in notes.items()),
                          "coin": sum(d * n for d, n in coins.items()),
                          # paid with the phone's payment code: no cash, so what the tallies
                          # do not cover (a cash payment's tally is its amount exactly)
                          "code": sum(p["amount_minor"] for p in pays) - sum(
                              d * n for d, n in (notes + coins).items())},
            "by_denomination": {"note": _denoms(notes), "coin": _denoms(coins)},
            "online": _tally(p for p in pays if not p["offline"]),
            "offline_queued": _tally(p for p in pays if p["offline"]),
            "recovered_at_power_up": _tally(p for p in pays if p["recovered"]),
            "delivered": _tally(delivered),
            "pending": _tally(p for p in pays if p["state"] in UNDELIVERED),
            "dead": _tally(p for p in pays if p["state"] == "DEAD"),
            "queue": self._queue(),
            "service_requests": self._requests(day),
            "collections": collections,
            "flags": self._flags(day),
            "server_count": server.get("count"),
            "server_total_minor": server.get("total_minor"),
            "reconciliation": {
                "journal": _tally(pays),
                "server": server,
                "device": _device_summary(collections, device_open_batch),
            },
            "mismatches": mismatches,
            "late_arrivals": self._late_arrivals(),
            "transactions": [{"txn_id": p["txn_id"], "amount_minor": p["amount_minor"],
                              "created_at": p["created_at"], "offline": bool(p["offline"]),
                              "state": p["state"]} for p in listed],
            "dead_payments": (self.resolutions(day) if self.resolutions is not None
                              else {"dead": [], "readdressed": [], "refund_pending": []}),
        }

    def issue(self, day: str, by: str, **kwargs: Any) -> dict[str, Any]:
        """Build, number and record the report: the covered payments and the late arrivals it
        lists are remembered, in one transaction with the sequence number."""
        with immediate(self.db):
            report = self.build(day, **kwargs)
            summary = {k: report[k] for k in ("count", "total_minor", "server_total_minor")}
            seq = self.db.execute(
                "INSERT INTO report_runs (report_date, generated_at, generated_by, summary)"
                " VALUES (?, ?, ?, ?)",
                (day, report["generated_at"], by, json.dumps(summary))).lastrowid
            report["seq"] = seq
            for t in report["transactions"]:
                self.db.execute(
                    "INSERT OR IGNORE INTO reported_payments (txn_id, report_seq, delivered)"
                    " VALUES (?, ?, ?)", (t["txn_id"], seq, int(t["state"] == "DELIVERED")))
            for late in report["late_arrivals"]:
                self.db.execute("UPDATE reported_payments SET late_seq = ? WHERE txn_id = ?",
                                (seq, late["txn_id"]))
        return report

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT seq, report_date, generated_at, generated_by, summary FROM report_runs"
            " ORDER BY seq DESC LIMIT ?", [limit]))

    def _server_mismatches(self, pays: list[dict[str, Any]], settlement: Mapping[str, Any] | None,
                           error: str) -> list[dict[str, Any]]:
        if settlement is None:
            return [{"kind": "server_unreachable", "txn_id": None, "journal_minor": None,
                     "server_minor": None, "detail": error or "settlement not fetched"}]
        server = {p["txn_id"]: p["amount_minor"] for p in settlement["payments"]}
        out = []
        kinds = {"PENDING": "pending_delivery", "IN_FLIGHT": "pending_delivery",
                 "DEAD": "dead_letter", "DELIVERED": "delivered_not_on_server",
                 "MISSING": "not_queued"}
        for p in pays:
            got = server.pop(p["txn_id"], None)
            if got is None:
                out.append({"kind": kinds.get(p["state"], "not_on_server"), "txn_id": p["txn_id"],
                            "journal_minor": p["amount_minor"], "server_minor": None,
                            "detail": p["last_error"] or ""})
            elif got != p["amount_minor"]:
                out.append({"kind": "amount_differs", "txn_id": p["txn_id"],
                            "journal_minor": p["amount_minor"], "server_minor": got, "detail": ""})
        for txn_id, amount in server.items():
            out.append({"kind": "not_in_journal", "txn_id": txn_id, "journal_minor": None,
                        "server_minor": amount, "detail": ""})
        return out


def _device_mismatches(collections: list[dict[str, Any]],
                       live: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Device counters ⟷ journal, per batch and denomination (counters are not per payment)."""
    pairs = [(c["batch_id"], c.get("device"), c.get("expected")) for c in collections
             if c.get("state") == "COUNTED"]
    if live is not None:
        pairs.append((live["batch_id"], live.get("device"), live.get("journal")))
    out = []
    for batch_id, device, journal in pairs:
        if device is None or journal is None:
            continue
        for denom in sorted(set(device) | set(journal), key=int, reverse=True):
            dev, jour = int(device.get(denom, 0)), int(journal.get(denom, 0))
            if dev != jour:
                out.append({"kind": "device_vs_journal", "txn_id": None, "batch_id": batch_id,
                            "denomination": int(denom), "device_count": dev,
                            "journal_count": jour, "journal_minor": jour * int(denom),
                            "server_minor": None, "detail": ""})
    return out


def _device_summary(collections: list[dict[str, Any]],
                    live: Mapping[str, Any] | None) -> dict[str, Any]:
    counted = [c for c in collections if c.get("state") == "COUNTED"]
    return {
        "batches_compared": sum(1 for c in counted if c.get("device") is not None),
        "batches_without_counters": sum(1 for c in counted if c.get("device") is None),
        "open_batch": None if live is None else live.get("batch_id"),
    }
