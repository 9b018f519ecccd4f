"""The daily report rendered for people: text lines (screen, SSH, printer) and CSV rows."""

from __future__ import annotations

import csv
import io
from typing import Any

from drivers.interfaces import PrintJob
from kiosk.flow.money import format_minor


def _money(minor: int | None) -> str:
    return "-" if minor is None else format_minor(int(minor))


def _tally(t: dict[str, int]) -> str:
    return f"{t['count']} / {_money(t['total_minor'])}"


def report_lines(r: dict[str, Any]) -> list[str]:
    seq = "preview" if r["seq"] is None else f"#{r['seq']}"
    server = r["reconciliation"]["server"]
    lines = [
        f"日结报表 Daily report {seq}  {r['date']}  {r['kiosk_id']}",
        f"生成 Generated: {r['generated_at']}",
        f"笔数/合计 Transactions: {r['count']} / {_money(r['total_minor'])}",
        f"纸币 Notes: {_money(r['by_tender']['note'])}   硬币 Coins: {_money(r['by_tender']['coin'])}",
        f"付款码 Payment code: {_money(r['by_tender'].get('code', 0))}",
    ]
    for tender, label in (("note", "纸币 note"), ("coin", "硬币 coin")):
        for denom, n in r["by_denomination"][tender].items():
            lines.append(f"  {label} {_money(int(denom))} x {n}")
    lines += [
        f"在线 Online: {_tally(r['online'])}   离线排队 Offline-queued: {_tally(r['offline_queued'])}",
        f"已上传 Delivered: {_tally(r['delivered'])}   待上传 Pending: {_tally(r['pending'])}"
        f"   死信 Dead: {_tally(r['dead'])}",
        f"队列 Queue now: pending {r['queue']['pending']}, dead letters {r['queue']['dead']}",
        "服务申请 Service requests: " + (", ".join(
            f"{k} {n}" for k, n in sorted(r.get("service_requests", {}).items())) or "0"),
    ]
    if server["reachable"]:
        lines.append(f"服务器 Server: {server['count']} / {_money(server['total_minor'])}")
    else:
        lines.append(f"服务器 Server: unreachable ({server['error']})")
    lines.append(f"对账差异 Mismatches: {len(r['mismatches']) or 'none'}")
    for m in r["mismatches"]:
        if m["kind"] == "server_unreachable":
            lines.append(f"  server_unreachable: {m['detail']}")
        elif m["kind"] == "device_vs_journal":
            lines.append(f"  device_vs_journal {m['batch_id']} {_money(m['denomination'])}:"
                         f" device {m['device_count']} journal {m['journal_count']}")
        else:
            lines.append(f"  {m['kind']} {m['txn_id']} journal {_money(m['journal_minor'])}"
                         f" server {_money(m['server_minor'])} {m.get('detail') or ''}".rstrip())
    lines += _dead_payment_lines(r.get("dead_payments") or {})
    lines.append(f"迟到 Late arrivals: {len(r['late_arrivals']) or 'none'}")
    for late in r["late_arrivals"]:
        lines.append(f"  {late['txn_id']} {late['date']} {_money(late['amount_minor'])}"
                     f" (report #{late['reported_in']})")
    lines.append(f"清点 Collections: {len(r['collections']) or 'none'}")
    for c in r["collections"]:
        if c["state"] == "COUNTED":
            lines.append(f"  {c['batch_id']} counted {_money(c['counted_minor'])}"
                         f" variance {_money(c['variance_minor'])}"
                         f" vs device {_money(c.get('device_variance_minor'))}")
        else:
            lines.append(f"  {c['batch_id']} {c['state'].lower()} (not counted yet)")
    if r["flags"]:
        lines.append(f"待核查 Flags for the operator: {len(r['flags'])}")
        for f in r["flags"]:
            lines.append(f"  {f['kind']} {f['session_id']} {_money(f['value_minor'])} {f['detail']}")
    return lines


def _dead_payment_lines(d: dict[str, Any]) -> list[str]:
    """Until each is settled (kiosk.staff.resolutions): dead, re-addressed, refund pending."""
    lines = [f"待处理死信 Dead payments to resolve: {len(d.get('dead', [])) or 'none'}"]
    lines += [f"  {p['txn_id']} {_money(p['amount_minor'])} {p['last_error'] or ''}".rstrip()
              for p in d.get("dead", [])]
    lines.append(f"已更正户号 Re-addressed: {len(d.get('readdressed', [])) or 'none'}")
    lines += [f"  {p['txn_id']} -> {p['new_txn_id']} ({p['new_account']}) "
              f"{_money(p['amount_minor'])} {'settled' if p['settled'] else p['new_state']}"
              for p in d.get("readdressed", [])]
    lines.append(f"待退款 Refund pending: {len(d.get('refund_pending', [])) or 'none'}")
    lines += [f"  {p['txn_id']} {_money(p['amount_minor'])} phone {p['phone']}"
              for p in d.get("refund_pending", [])]
    return lines


def report_job(r: dict[str, Any]) -> PrintJob:
    lines = report_lines(r)
    return PrintJob(lines=tuple(lines[1:]), title=lines[0])


def report_csv(r: dict[str, Any]) -> str:
    """section,key,count,amount_minor,detail — one row per figure, easy to load in a sheet."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "key", "count", "amount_minor", "detail"])
    w.writerow(["report", "seq", r["seq"] if r["seq"] is not None else "", "", r["date"]])
    w.writerow(["total", "all", r["count"], r["total_minor"], ""])
    for tender, amount in r["by_tender"].items():
        w.writerow(["tender", tender, "", amount, ""])
    for tender, denoms in r["by_denomination"].items():
        for denom, n in denoms.items():
            w.writerow(["denomination", f"{tender}:{denom}", n, int(denom) * n, ""])
    for key in ("online", "offline_queued", "delivered", "pending", "dead"):
        w.writerow(["split", key, r[key]["count"], r[key]["total_minor"], ""])
    w.writerow(["server", "settlement", r["server_count"] if r["server_count"] is not None else "",
                r["server_total_minor"] if r["server_total_minor"] is not None else "",
                "" if r["reconciliation"]["server"]["reachable"]
                else r["reconciliation"]["server"]["error"]])
    for m in r["mismatches"]:
        w.writerow(["mismatch", m["txn_id"] or m.get("batch_id") or "", "",
                    m["journal_minor"] if m["journal_minor"] is not None else "",
                    f"{m['kind']} {m.get('detail') or ''}".strip()])
    for late in r["late_arrivals"]:
        w.writerow(["late_arrival", late["txn_id"], 1, late["amount_minor"], late["date"]])
    for c in r["collections"]:
        w.writerow(["collection", c["batch_id"], "", c.get("counted_minor", ""), c["state"]])
    return out.getvalue()
