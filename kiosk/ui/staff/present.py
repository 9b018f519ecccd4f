"""What the staff screens say: plain functions from the staff back-end's answers (diagnostics
report, locking faults, queue status, collection result, daily report) to translated rows.

No Kivy here, like ``present``. Technical detail the devices or the billing API give in English
(a device's reason, a self-test's detail) is passed through as data; everything the terminal
itself says goes through the catalog.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from kiosk.flow.money import format_minor
from kiosk.ui.catalog import N_
from kiosk.ui.present import FAULTS
from kiosk.ui.staff.reasons import say_reason

Gettext = Callable[[str], str]

STATUS = {"ok": N_("Normal"), "degraded": N_("Degraded"), "fault": N_("Fault"),
          "unknown": N_("Unknown")}
#: red only for faults; the status word carries the meaning, never the colour alone
STATUS_ROLE = {"ok": "fg", "degraded": "fg", "fault": "fault", "unknown": "muted"}
NAMES = {
    "bill_validator": N_("Note reader"),
    "coin_acceptor": N_("Coin acceptor"),
    "card_reader": N_("Card reader"),
    "printer": N_("Receipt printer"),
    "scanner": N_("Barcode scanner"),
    "billing_api": N_("Billing server"),
    "queue": N_("Send queue"),
    "database": N_("Database"),
    "disk": N_("Disk"),
    "locks": N_("Locking faults"),
    "terminal": N_("Terminal"),
}
ROLES = {"maintenance": N_("Maintenance"), "operator": N_("Operator")}
ERRORS = {
    "bad_pin": N_("Wrong staff ID or PIN. Please try again."),
    "locked_out": N_("Too many wrong attempts. Please try again in {seconds} s."),
    "permission_denied": N_("Your role may not do this."),
    "session_expired": N_("Your staff session has ended. Please log in again."),
    "collection_error": N_("This count cannot be recorded."),
    "fault_not_clearable": N_("This fault cannot be cleared yet: the device still reports it, "
                              "or it is already gone. Fix the device, then check again."),
    "not_found": N_("There is no receipt with this number."),
    "failed": N_("That did not work. Please try again."),
}
TESTS = {
    "printer": (N_("Print a test page"), N_("Prints Chinese and English text and a QR code.")),
    "validator": (N_("Note reader test"),
                  N_("Insert one note within 30 s: it is checked and given back.")),
    "coin": (N_("Coin test"),
             N_("Insert one coin within 30 s: it is kept and flagged for the operator.")),
    "card": (N_("Card reader test"), N_("Hold a card to the reader within 10 s.")),
}


def name_of(name: str, _: Gettext) -> str:
    return _(NAMES[name]) if name in NAMES else name


def age_text(seconds: int | None, _: Gettext) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return _("{seconds} s").format(seconds=int(seconds))
    if seconds < 2 * 3600:
        return _("{minutes} min").format(minutes=int(seconds // 60))
    return _("{hours} h").format(hours=int(seconds // 3600))


def error_text(code: str, _: Gettext, wait_s: int = 0) -> str:
    return _(ERRORS.get(code, ERRORS["failed"])).format(seconds=wait_s)


def queue_text(stats: Mapping[str, Any], _: Gettext) -> str:
    """Promise 5: staff always see the pending count and the oldest age."""
    waiting = int(stats.get("pending", 0)) + int(stats.get("in_flight", 0))
    if not waiting:
        text = _("Nothing waiting to be sent.")
    else:
        text = _("{count} waiting to be sent, the oldest for {age}.").format(
            count=waiting, age=age_text(stats.get("oldest_pending_age_s"), _))
    if stats.get("dead"):
        text += " " + _("{count} refused by the server (dead letters).").format(count=stats["dead"])
    return text


def fault_title(device: str, code: str, _: Gettext) -> str:
    return _(FAULTS[code]) if code in FAULTS else f"{name_of(device, _)}: {code}"


def faults_text(faults: Iterable[Any], _: Gettext) -> str:
    faults = list(faults)
    if not faults:
        return _("No fault is locking the terminal.")
    first = fault_title(faults[0].device, faults[0].code, _)
    return _("Locked by {count} fault(s): {first}").format(count=len(faults), first=first)


def fault_rows(faults: Iterable[Any], can_clear: Callable[[str], bool], _: Gettext) -> list[dict]:
    return [{"title": fault_title(f.device, f.code, _),
             "detail": f"{name_of(f.device, _)} · {f.code} · {_when(f.raised_at)}",
             "device": f.device, "code": f.code, "can_clear": can_clear(f.code)}
            for f in faults]


def _when(iso: str) -> str:
    """``2026-03-01T09:30:05+08:00`` → ``2026-03-01 09:30``."""
    return iso[:16].replace("T", " ")


def _entry_reason(e: Mapping[str, Any], _: Gettext) -> str:
    kind, status = e.get("kind"), e.get("status")
    if kind == "api":
        if e.get("reachable") and status == "ok":
            return _("Reachable in {ms} ms").format(ms=e.get("latency_ms"))
        if not e.get("reachable") and e.get("status_code") is None and e.get("url"):
            return _("Unreachable") + f" ({e['reason']})"
    if kind == "queue":
        return queue_text({"pending": e.get("depth", 0), "dead": e.get("dead_letters", 0),
                           "oldest_pending_age_s": e.get("oldest_pending_age_s")}, _)
    if kind == "database" and status == "ok":
        return _("Integrity check passed")
    if kind == "terminal":
        faults = [_F(f["device"], f["code"]) for f in e.get("faults", [])]
        return faults_text(faults, _)
    return say_reason(e.get("reason") or "", _) or "—"


class _F:
    def __init__(self, device: str, code: str) -> None:
        self.device, self.code = device, code


def diag_rows(report: Mapping[str, Any], _: Gettext) -> list[dict]:
    """Faults first (then degraded, unknown, ok): the first page shows what needs doing."""
    order = {"fault": 0, "degraded": 1, "unknown": 2, "ok": 3}
    rows = []
    for e in sorted(report.get("entries", []), key=lambda e: order.get(e.get("status"), 2)):
        status = e.get("status", "unknown")
        rows.append({"status": _(STATUS.get(status, STATUS["unknown"])),
                     "status_role": STATUS_ROLE.get(status, "muted"),
                     "name": name_of(e["name"], _), "reason": _entry_reason(e, _)})
    return rows


def diag_summary(report: Mapping[str, Any], _: Gettext) -> str:
    status = report.get("status", "unknown")
    return _("Overall: {status} · checked at {time}").format(
        status=_(STATUS.get(status, STATUS["unknown"])),
        time=str(report.get("generated_at", ""))[11:19])


def test_result_text(result: Any, _: Gettext) -> str:
    word = _("Passed") if result.ok else _("Failed")
    return f"{word}: {result.detail}"


def count_total_text(counts: Mapping[int, int], _: Gettext) -> str:
    total = sum(d * n for d, n in counts.items())
    notes = sum(counts.values())
    return _("Counted: {count} notes, {amount}").format(count=notes, amount=format_minor(total))


def _signed(minor: int) -> str:
    return ("+" if minor > 0 else "") + format_minor(minor)


def counted_rows(result: Any, _: Gettext) -> list[dict]:
    """One row per denomination: counted, journal, device (expected figures only now)."""
    rows = []
    for denom in result.denominations:
        device = "—" if result.device is None else str(result.device.get(denom, 0))
        text = _("counted {counted} · journal {journal} · device {device}")
        rows.append({"name": format_minor(denom), "reason": text.format(
            counted=result.counted.get(denom, 0), journal=result.expected.get(denom, 0),
            device=device)})
    return rows


def variance_text(result: Any, _: Gettext) -> tuple[str, bool]:
    """The headline after the count; True when there is a variance to look into."""
    counted = sum(d * n for d, n in result.counted.items())
    expected = sum(d * n for d, n in result.expected.items())
    if result.variance_minor == 0:
        text = _("Counted {counted}, as the journal expects. No variance.").format(
            counted=format_minor(counted))
    else:
        text = _("Counted {counted}, the journal expects {expected}: variance {variance}.").format(
            counted=format_minor(counted), expected=format_minor(expected),
            variance=_signed(result.variance_minor))
    if result.device_variance_minor is None:
        text += " " + _("The note reader's counters are not available.")
    elif result.device_variance_minor:
        text += " " + _("Against the note reader's counters: {variance}.").format(
            variance=_signed(result.device_variance_minor))
    return text, bool(result.variance_minor or result.device_variance_minor)


def printed_text(printed: Any, _: Gettext, what: str = "receipt") -> tuple[str, str]:
    """What happened to the print-out, and the printer's reason (data) when it failed."""
    if printed is None:
        return "", ""
    if printed.ok:
        return (_("The report was printed.") if what == "report"
                else _("The receipt was printed.")), ""
    return (_("The report could not be printed.") if what == "report"
            else _("The receipt could not be printed.")), printed.reason


def report_rows(r: Mapping[str, Any], _: Gettext) -> list[dict]:
    """The daily report's figures as (name, value) rows."""
    def tally(t: Mapping[str, int]) -> str:
        return _("{count} · {amount}").format(count=t["count"],
                                              amount=format_minor(t["total_minor"]))

    server = r["reconciliation"]["server"]
    server_text = (tally({"count": server["count"], "total_minor": server["total_minor"]})
                   if server["reachable"] else _("Unreachable"))
    # the reconciliation first: it is what the operator has to act on
    return [
        {"name": _("Transactions"), "reason": tally(r)},
        {"name": _("Billing server"), "reason": server_text},
        {"name": _("Mismatches"), "reason": str(len(r["mismatches"]))},
        {"name": _("Late arrivals"), "reason": str(len(r["late_arrivals"]))},
        {"name": _("Notes / coins"), "reason": f"{format_minor(r['by_tender']['note'])} / "
                                              f"{format_minor(r['by_tender']['coin'])}"},
        {"name": _("Payment code"), "reason": format_minor(r["by_tender"].get("code", 0))},
        {"name": _("Sent at once"), "reason": tally(r["online"])},
        {"name": _("Queued offline"), "reason": tally(r["offline_queued"])},
        {"name": _("Waiting / dead"), "reason": f"{tally(r['pending'])} / {tally(r['dead'])}"},
        {"name": _("Collections"), "reason": str(len(r["collections"]))},
    ]


def _mismatch(m: Mapping[str, Any]) -> str:
    if m["kind"] == "server_unreachable":
        return f"server_unreachable: {m.get('detail') or ''}".strip()
    if m["kind"] == "device_vs_journal":
        return (f"{m['batch_id']} {format_minor(int(m['denomination']))}: device "
                f"{m['device_count']} / journal {m['journal_count']}")
    money = lambda v: "-" if v is None else format_minor(int(v))  # noqa: E731
    return f"{m['kind']} {m['txn_id']} {money(m['journal_minor'])} / {money(m['server_minor'])}"


def report_details(r: Mapping[str, Any], _: Gettext) -> list[dict]:
    """Notes and coins by denomination, then every mismatch (by transaction id), late arrival,
    collection and flag: the lines an operator has to look into."""
    rows = []
    for tender, label in (("note", N_("Notes {amount}")), ("coin", N_("Coins {amount}"))):
        for denom, n in r["by_denomination"][tender].items():
            rows.append({"name": _(label).format(amount=format_minor(int(denom))),
                         "reason": f"× {n}"})
    rows += [{"name": _("Mismatch"), "reason": _mismatch(m)} for m in r["mismatches"]]
    rows += [{"name": _("Late arrival"),
              "reason": f"{x['txn_id']} {x['date']} {format_minor(int(x['amount_minor']))}"}
             for x in r["late_arrivals"]]
    for c in r["collections"]:
        state = _("not counted yet")
        if c["state"] == "COUNTED":
            state = _("counted {counted}, variance {variance}").format(
                counted=format_minor(int(c["counted_minor"])),
                variance=_signed(int(c["variance_minor"])))
        rows.append({"name": _("Collection"), "reason": f"{c['batch_id']} {state}"})
    rows += [{"name": _("Flag for the operator"),
              "reason": f"{f['kind']} {f['session_id']} {format_minor(int(f['value_minor'] or 0))}"}
             for f in r.get("flags", [])]
    return rows


def report_title(r: Mapping[str, Any], day_label: str, _: Gettext) -> str:
    if r.get("seq") is None:
        return _("Daily report {date} ({day}, preview)").format(date=r["date"], day=day_label)
    return _("Daily report {date} ({day}), number {seq}").format(date=r["date"], day=day_label,
                                                                 seq=r["seq"])
