"""States of the screens beyond tests/ui/test_screens.py's list: paying by phone (code_pay) and
the services menu's errands (choice, phone, request_confirm, request_done, history), in the same
shape — (name, expected screen, session, UiState fields, set-up) — so the screenshot tool and the
no-truncation walk show them at every size too."""

from __future__ import annotations

from dataclasses import replace

from kiosk.flow import code_tender as ct
from kiosk.flow import services_menu as sm
from kiosk.flow.events import AccountInfo
from kiosk.flow.session import Phase, Session
from tests.ui.test_screens import ACC, SID


def more_states(limits) -> list:
    acc = AccountInfo(ACC.account_no, ACC.holder_masked, ACC.address_masked, ACC.arrears_minor,
                      ACC.balance_minor, "2026-03-01T09:30:00+08:00")
    amount = Session(config=limits, session_id=SID, phase=Phase.AMOUNT, account=acc,
                     code_enabled=True, target_minor=12_850, printer_can_print=True)
    code = ct.CodeState(12_850, ACC.account_no, attempt=1, order_id=f"{SID}.C1")
    errand = replace(amount, phase=Phase.ERRAND, code_enabled=False)
    history = sm.History(ACC.account_no, tuple(
        sm.Month(f"2025-{m:02d}", 180 + m, 9_000 + 100 * m, 9_000 + 100 * m, "kiosk")
        for m in range(12, 6, -1)), (sm.PastPayment("2025-12-03T10:00:00+08:00", 9_000, "kiosk"),),
        "2026-03-01T09:30:00+08:00")
    fault = sm.Errand("fault", "category")
    complaint = sm.Errand("complaint", "reasons", category="billing", reasons=("urgent",))
    return [
        ("code-amount", "amount", amount, {}, None),
        ("code-scan", "code_pay", replace(amount, phase=Phase.CODE_SCAN, code=code), {}, None),
        ("code-confirm", "code_pay",
         replace(amount, phase=Phase.CODE_WAIT, message="code_confirm_on_phone",
                 code=replace(code, step="confirming", left_s=42, message="code_confirm_on_phone")),
         {}, None),
        ("code-declined", "code_pay",
         replace(amount, phase=Phase.CODE_FAILED, message="code_failed:declined",
                 code=replace(code, step="failed", message="code_failed:declined")), {}, None),
        ("services", "choice", replace(errand, phase=Phase.SERVICES), {}, None),
        ("errand-category", "choice", replace(errand, errand=fault), {}, None),
        ("errand-reasons", "choice", replace(errand, errand=complaint), {}, None),
        ("errand-phone", "phone", replace(errand, errand=replace(fault, step="phone",
                                                                  category="no_power")), {}, None),
        ("errand-confirm", "request_confirm",
         replace(errand, errand=replace(fault, step="confirm", category="no_power",
                                        phone="13800138000")), {}, None),
        ("errand-done", "request_done",
         replace(errand, errand=replace(fault, step="done", category="no_power",
                                        phone="13800138000", local_ref="K0001-0042",
                                        utility_ref="GD20260301-0042")), {}, None),
        ("history", "history",
         replace(errand, errand=sm.Errand("history", "history", history=history)), {}, None),
    ]
