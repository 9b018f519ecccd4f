"""Slips for what is not a payment: the history on screen and a service request or e-bill
sign-up with its reference number. Pure, like kiosk/flow/receipt.py; the printer driver renders
the (title, lines) it returns. The account number and the phone are masked on paper."""

from __future__ import annotations

from kiosk.flow.account import mask_account
from kiosk.flow.money import format_minor
from kiosk.flow.services_menu import Errand, History, mask_phone

LABELS = {
    "zh": {
        "history": "用电及缴费记录", "request": "服务申请回执", "ebill": "电子账单订阅回执",
        "account": "户号：", "as_of": "数据时间：", "cached": "（网络中断，显示本机保存的记录）",
        "month": "月份  电量(度)  应缴  已缴", "payments": "最近缴费：",
        "kind": "类别：", "ref_local": "本机受理号：", "ref": "受理编号：",
        "pending": "网络恢复后自动提交，受理编号将短信告知。", "phone": "联系电话：",
        "ebill_what": "订阅：", "service": "服务电话：", "keep": "请妥善保管本回执。",
        "kwh": "度",
    },
    "en": {
        "history": "Usage and payment history", "request": "Service request",
        "ebill": "E-bill sign-up", "account": "Account: ", "as_of": "As of: ",
        "cached": "(offline: the copy kept on this terminal)",
        "month": "Month  kWh  Billed  Paid", "payments": "Last payments:",
        "kind": "Request: ", "ref_local": "Terminal reference: ", "ref": "Reference: ",
        "pending": "Sent when the network is back; the reference comes by SMS.",
        "phone": "Phone: ", "ebill_what": "Signed up for: ", "service": "Service phone: ",
        "keep": "Please keep this slip.", "kwh": "kWh",
    },
}
#: what a request slip names the request as (the screens' words are the catalogue's)
KIND_NAMES = {
    "zh": {"fault": "故障报修", "outage": "停电报告", "complaint": "投诉", "suggestion": "建议",
           "ebill": "电子账单", "both": "电子账单和缴费提醒", "bills": "电子账单",
           "reminders": "缴费提醒"},
    "en": {"fault": "fault report", "outage": "outage report", "complaint": "complaint",
           "suggestion": "suggestion", "ebill": "e-bill", "both": "e-bills and reminders",
           "bills": "e-bills", "reminders": "payment reminders"},
}


def history_slip(h: History, service_phone: str, lang: str = "zh") -> tuple[str, tuple[str, ...]]:
    t = LABELS.get(lang, LABELS["zh"])
    lines = [t["account"] + mask_account(h.account_no), t["as_of"] + h.as_of]
    if h.from_cache:
        lines.append(t["cached"])
    lines.append(t["month"])
    for m in h.months:
        lines.append(f"{m.period}  {m.kwh}{t['kwh']}  {format_minor(m.billed_minor)}"
                     f"  {format_minor(m.paid_minor)}")
    if h.payments:
        lines.append(t["payments"])
        lines += [f"  {p.paid_at[:10]}  {format_minor(p.amount_minor)}  {p.channel}"
                  for p in h.payments]
    lines += [t["service"] + service_phone, t["keep"]]
    return t["history"], tuple(lines)


def request_slip(errand: Errand, account_no: str, service_phone: str,
                 lang: str = "zh") -> tuple[str, tuple[str, ...]]:
    t, names = LABELS.get(lang, LABELS["zh"]), KIND_NAMES.get(lang, KIND_NAMES["zh"])
    ebill = errand.kind == "ebill"
    lines = [t["account"] + mask_account(account_no)]
    if ebill:
        lines.append(t["ebill_what"] + names[errand.ebill_what or "both"])
    else:
        lines.append(t["kind"] + names[errand.kind])
    if errand.phone:
        lines.append(t["phone"] + mask_phone(errand.phone))
    lines.append(t["ref_local"] + errand.local_ref)
    if errand.utility_ref:
        lines.append(t["ref"] + errand.utility_ref)
    else:
        lines.append(t["pending"])
    lines += [t["service"] + service_phone, t["keep"]]
    return t["ebill" if ebill else "request"], tuple(lines)
