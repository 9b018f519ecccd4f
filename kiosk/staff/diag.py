"""Diagnostics for maintenance: one entry per device (status ``ok``, ``degraded``,
``fault`` or ``unknown`` with a reason, counters, identity, last faults), and entries for the
billing API (reachability, latency, TLS, clock skew), the queue (depth, oldest pending age, dead
letters — counts, never money), the database's integrity, disk space and the locking faults.

The entry builders are pure; ``diagnose`` assembles a report from what it is handed, so the
CLI (devices opened by ``DeviceProbe``) and the app (its live drivers) share it.
"""

from __future__ import annotations

import collections
import logging
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

from drivers import interfaces as d
from kiosk.staff.billing_queries import ApiHealth
from kiosk.staff.faults import LockingFault
from kiosk.staff.probe import DeviceView
from kiosk.staff.selftest import SelfTestResult
from offline_queue.outbox import QueueStats

log = logging.getLogger(__name__)

OK, DEGRADED, FAULT, UNKNOWN = "ok", "degraded", "fault", "unknown"
SEVERITY = {OK: 0, UNKNOWN: 1, DEGRADED: 2, FAULT: 3}
SELF_TEST_DEVICE = {"printer": "printer", "validator": "bill_validator",
                    "coin": "coin_acceptor", "card": "card_reader"}
MAX_SKEW_S = 120.0
SLOW_MS = 2000
DISK_FAULT_BYTES = 50 * 1024 * 1024
DISK_LOW_BYTES = 500 * 1024 * 1024


def _entry(name: str, kind: str, status: str, reason: str, **details: Any) -> dict[str, Any]:
    return {"name": name, "kind": kind, "status": status, "reason": reason, **details}


def device_entry(name: str, url: str, protocol: str, view: DeviceView,
                 test: SelfTestResult | None = None,
                 history: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    status, reason = view.health.state.value, view.health.reason
    seen = [{"code": ev.code, "reason": ev.reason, "locking": ev.locking}
            for ev in view.events if isinstance(ev, d.DeviceFault)][-5:]
    if protocol == "em4100" and status == OK and not reason:
        cards = any(isinstance(ev, d.CardPresented) for ev in view.events)
        # A reader of this kind only talks while a card is in the field: silence proves nothing.
        reason = ("card in the field" if cards else
                  "port open; silent without a card (the card-read test checks the reader)")
    if test is not None and not test.ok:
        status, reason = FAULT, f"self-test failed: {test.detail}"
    return _entry(name, "device", status, reason, url=url, protocol=protocol,
                  firmware=view.identity, counters=view.stats, faults_seen=seen,
                  last_faults=list(history), self_test=None if test is None else test.as_dict())


def api_entry(api: ApiHealth | None, error: str = "") -> dict[str, Any]:
    if api is None:
        return _entry("billing_api", "api", UNKNOWN, error or "not checked")
    details = {"url": api.url, "reachable": api.reachable, "status_code": api.status_code,
               "latency_ms": api.latency_ms, "tls": api.tls, "clock_skew_s": api.clock_skew_s}
    if not api.reachable:
        return _entry("billing_api", "api", FAULT, api.reason, **details)
    if api.clock_skew_s is not None and abs(api.clock_skew_s) > MAX_SKEW_S:
        return _entry("billing_api", "api", DEGRADED,
                      f"terminal clock differs from the server's by {api.clock_skew_s:+.0f} s",
                      **details)
    if api.latency_ms is not None and api.latency_ms > SLOW_MS:
        return _entry("billing_api", "api", DEGRADED, f"slow: {api.latency_ms} ms", **details)
    return _entry("billing_api", "api", OK, f"reachable in {api.latency_ms} ms", **details)


def queue_entry(stats: QueueStats, dead_rows: Iterable[Mapping[str, Any]],
                max_age_s: int) -> dict[str, Any]:
    depth = stats.pending + stats.in_flight
    dead = [{"kind": r["kind"], "key": r["idem_key"], "status_code": r.get("status_code"),
             "error": r.get("last_error")} for r in dead_rows]
    details = {"depth": depth, "oldest_pending_age_s": stats.oldest_pending_age_s if depth else None,
               "dead_letters": len(dead), "dead": dead}
    if depth and stats.oldest_pending_age_s > max_age_s:
        return _entry("queue", "queue", FAULT,
                      f"oldest pending delivery is {stats.oldest_pending_age_s} s old: "
                      "past the offline limit, cash is refused", **details)
    if dead:
        return _entry("queue", "queue", DEGRADED,
                      f"{len(dead)} dead letter(s) need a staff decision", **details)
    if depth:
        return _entry("queue", "queue", OK, f"{depth} waiting to be delivered", **details)
    return _entry("queue", "queue", OK, "empty", **details)


def database_entry(path: str, problem: str | None) -> dict[str, Any]:
    if problem:
        return _entry("database", "database", FAULT, f"integrity check failed: {problem}", path=path)
    return _entry("database", "database", OK, "integrity check passed", path=path)


def disk_entry(path: str) -> dict[str, Any]:
    folder = Path(path).resolve().parent
    try:
        usage = shutil.disk_usage(folder)
    except OSError as exc:
        return _entry("disk", "disk", UNKNOWN, f"cannot read disk usage: {exc}", path=str(folder))
    details = {"path": str(folder), "free_bytes": usage.free, "total_bytes": usage.total}
    if usage.free < DISK_FAULT_BYTES:
        return _entry("disk", "disk", FAULT, f"only {usage.free // 2**20} MiB free", **details)
    if usage.free < DISK_LOW_BYTES:
        return _entry("disk", "disk", DEGRADED, f"{usage.free // 2**20} MiB free", **details)
    return _entry("disk", "disk", OK, f"{usage.free // 2**20} MiB free", **details)


def locks_entry(faults: Iterable[LockingFault]) -> dict[str, Any]:
    faults = list(faults)
    details = {"faults": [f.as_dict() for f in faults]}
    if faults:
        what = ", ".join(f"{f.device}/{f.code}" for f in faults)
        return _entry("locks", "terminal", FAULT, f"terminal locked: {what}", **details)
    return _entry("locks", "terminal", OK, "no locking fault", **details)


def worst(entries: Iterable[Mapping[str, Any]]) -> str:
    return max((e["status"] for e in entries), key=lambda s: SEVERITY.get(s, 1), default=OK)


def diagnose(*, kiosk_id: str, devices: Mapping[str, Any], views: Mapping[str, DeviceView],
             api: ApiHealth | None, queue: QueueStats, dead_rows: Iterable[Mapping[str, Any]],
             max_age_s: int, db_path: str, db_problem: str | None,
             locks: Iterable[LockingFault], history: Mapping[str, list[dict[str, Any]]] | None = None,
             self_tests: Iterable[SelfTestResult] = (), ports: list[dict[str, str]] | None = None,
             recent_log: list[str] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The whole diagnostics report. ``devices``: name → config section (url, protocol)."""
    tests = {SELF_TEST_DEVICE.get(t.name, t.name): t for t in self_tests}
    entries = []
    for name, dev in devices.items():
        view = views.get(name) or DeviceView(d.Health(d.HealthState.UNKNOWN, "not probed"))
        entries.append(device_entry(name, dev.url, dev.protocol, view, tests.get(name),
                                    (history or {}).get(name, [])))
    entries += [api_entry(api), queue_entry(queue, dead_rows, max_age_s),
                database_entry(db_path, db_problem), disk_entry(db_path), locks_entry(locks)]
    return {
        "kiosk_id": kiosk_id,
        "generated_at": (now or datetime.now().astimezone()).isoformat(timespec="seconds"),
        "status": worst(entries),
        "entries": entries,
        "self_tests": [t.as_dict() for t in self_tests],
        "ports": ports or [],
        "recent_log": recent_log or [],
    }


def text_lines(report: Mapping[str, Any]) -> list[str]:
    lines = [f"diagnostics {report['kiosk_id']} {report['generated_at']}: {report['status']}"]
    for e in report["entries"]:
        lines.append(f"  {e['name']:15} {e['status']:9} {e['reason']}")
    for t in report["self_tests"]:
        lines.append(f"  self-test {t['name']:9} {'pass' if t['ok'] else 'FAIL'} {t['detail']}")
    if report["ports"]:
        lines.append("serial ports: " + ", ".join(p["device"] for p in report["ports"]))
    for line in report["recent_log"]:
        lines.append(f"  | {line}")
    return lines


def tail_file(path: str, n: int = 50) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n") for line in collections.deque(fh, maxlen=n)]
    except OSError as exc:
        return [f"(cannot read {path}: {exc})"]
