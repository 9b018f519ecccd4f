"""The receipt as data: what a printed (or on-screen) receipt says. Pure; the printer driver
renders it. The account number is masked; the money comes from minor units."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.flow.account import mask_account
from kiosk.flow.money import format_minor


@dataclass(frozen=True)
class ReceiptData:
    kiosk_id: str
    service_phone: str
    receipt_no: str
    txn_id: str
    account_no: str
    amount_minor: int
    notes: dict[str, int]
    coins: dict[str, int]
    created_at: str
    offline: bool
    #: the QR text signed by the kiosk's key (kiosk/services/receipt_signing.py), made in the
    #: shell: "" falls back to the unsigned reference below
    signed_qr: str = ""


LABELS = {
    "zh": {
        "title": "电费缴费凭证",
        "receipt": "凭证号：",
        "account": "户号：",
        "paid": "实收金额：",
        "notes": "纸币",
        "coins": "硬币",
        "time": "时间：",
        "kiosk": "终端：",
        "queued": "网络中断：本笔缴费已安全记录，恢复后自动上传。",
        "no_change": "本机不找零，多缴部分存入预付余额。",
        "phone": "服务电话：",
        "keep": "请妥善保管本凭证。",
    },
    "en": {
        "title": "Electricity payment receipt",
        "receipt": "Receipt no: ",
        "account": "Account: ",
        "paid": "Paid: ",
        "notes": "notes",
        "coins": "coins",
        "time": "Time: ",
        "kiosk": "Terminal: ",
        "queued": "Offline: payment recorded safely, sent when the network is back.",
        "no_change": "No change given; any surplus is prepaid balance.",
        "phone": "Service phone: ",
        "keep": "Please keep this receipt.",
    },
}


def receipt_lines(r: ReceiptData, lang: str = "zh") -> tuple[str, tuple[str, ...], str]:
    """(title, lines, qr payload)."""
    t = LABELS.get(lang, LABELS["zh"])
    lines = [
        t["receipt"] + r.receipt_no,
        t["account"] + mask_account(r.account_no),
        t["paid"] + format_minor(r.amount_minor),
    ]
    for label, tally in ((t["notes"], r.notes), (t["coins"], r.coins)):
        for denom, count in sorted(tally.items(), key=lambda kv: -int(kv[0])):
            lines.append(f"  {format_minor(int(denom))} {label} x {count}")
    lines += [t["time"] + r.created_at, t["kiosk"] + r.kiosk_id]
    if r.offline:
        lines.append(t["queued"])
    lines += [t["no_change"], t["phone"] + r.service_phone, t["keep"]]
    return t["title"], tuple(lines), qr_payload(r)


def qr_payload(r: ReceiptData) -> str:
    """What the QR code says: a URL with the receipt's facts and the kiosk's signature, which
    a phone opens to see whether the payment reached the utility."""
    if r.signed_qr:
        return r.signed_qr
    return f"EPAY:{r.kiosk_id}:{r.txn_id}:{r.receipt_no}:{r.amount_minor}"
