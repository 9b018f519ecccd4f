"""The receipt as data: what a printed (or on-screen) receipt says. Pure; the printer driver
renders it. The account number is masked; the money comes from minor units.

The payment itself is the journal's record (offline_queue/journal.py ``PaymentRecord``): this
layer may not import it (docs/architecture.md, layers), so it names the facts it reads as a
``Protocol`` and the receipt holds the record as it is, never a copy of its fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kiosk.flow.account import mask_account
from kiosk.flow.money import format_minor


class PaidFacts(Protocol):
    """What a receipt reads from a committed payment. Tallies are (denomination in minor
    units, count) pairs, as CommitPayment carries them."""

    @property
    def kiosk_id(self) -> str: ...
    @property
    def receipt_no(self) -> str: ...
    @property
    def txn_id(self) -> str: ...
    @property
    def account_no(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def notes(self) -> tuple[tuple[int, int], ...]: ...
    @property
    def coins(self) -> tuple[tuple[int, int], ...]: ...
    @property
    def created_at(self) -> str: ...
    @property
    def offline(self) -> bool: ...


@dataclass(frozen=True)
class ReceiptData:
    """A payment as the terminal prints it: the record, and what the terminal adds."""

    payment: PaidFacts
    service_phone: str
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
        "code": "付款码支付 流水号：",
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
        "code": "Paid by payment code, ref: ",
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
    p = r.payment
    lines = [
        t["receipt"] + p.receipt_no,
        t["account"] + mask_account(p.account_no),
        t["paid"] + format_minor(p.amount_minor),
    ]
    for label, tally in ((t["notes"], p.notes), (t["coins"], p.coins)):
        for denom, count in sorted(tally, key=lambda kv: -kv[0]):
            lines.append(f"  {format_minor(denom)} {label} x {count}")
    if getattr(p, "gateway_ref", None):  # paid with the phone's payment code
        lines.append(t["code"] + p.gateway_ref)
    lines += [t["time"] + p.created_at, t["kiosk"] + p.kiosk_id]
    if p.offline:
        lines.append(t["queued"])
    lines += [t["no_change"], t["phone"] + r.service_phone, t["keep"]]
    return t["title"], tuple(lines), qr_payload(r)


def qr_payload(r: ReceiptData) -> str:
    """What the QR code says: a URL with the receipt's facts and the kiosk's signature, which
    a phone opens to see whether the payment reached the utility."""
    if r.signed_qr:
        return r.signed_qr
    p = r.payment
    return f"EPAY:{p.kiosk_id}:{p.txn_id}:{p.receipt_no}:{p.amount_minor}"
