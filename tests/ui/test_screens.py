"""Every screen, in Chinese and English, standard and accessible: a screenshot of each to
``artifacts/screenshots/`` and the rules each must keep (translated text, text size, touch target
size, button placement, no overlap or overflow, Chinese glyphs really drawn)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from billing_server.seed import DEMO_ACCOUNTS
from kiosk.flow.events import AccountInfo, QueueState
from kiosk.flow.receipt import ReceiptData
from offline_queue.journal import PaymentRecord
from kiosk.flow.session import Credit, Phase, Session
from kiosk.ui.i18n import LANG_NAMES
from tests.ui import screen_checks as checks

pytestmark = pytest.mark.ui

ACC = DEMO_ACCOUNTS[0]
SID = "20260301093000-0123456789ab"
OFFLINE = QueueState(online=False, pending_count=3, pending_total_minor=30_000, oldest_pending_age_s=600)
# standard → accessible → standard again: sizes and colours must follow the switch both ways
VARIANTS = (("zh_CN", False), ("en", True), ("zh_CN", True), ("en", False))


def _custom(kiosk):
    screen = kiosk.app.manager.get_screen("amount")
    screen.custom, screen.entered = True, "80"


def _typed(kiosk):
    kiosk.app.manager.get_screen("identify").entered = "3101000"


def states(limits):
    """(name, expected screen, session, UiState fields, local set-up)."""
    acc = AccountInfo(ACC.account_no, ACC.holder_masked, ACC.address_masked, ACC.arrears_minor,
                      ACC.balance_minor, "2026-03-01T09:30:00+08:00")
    receipt = ReceiptData(PaymentRecord("KIOSK-0001", "T-42", "T-42", ACC.account_no, 15_000,
                                        "KIOSK-0001-20260301-00042", "2026-03-01T09:31:00+08:00",
                                        False, ((5000, 1), (10000, 1)), ()), "95598")
    base = Session(config=limits)
    started = replace(base, session_id=SID)
    account = replace(started, phase=Phase.ACCOUNT, account=acc)
    amount = replace(account, phase=Phase.AMOUNT)
    inserting = replace(amount, phase=Phase.INSERTING, target_minor=12_850,
                        credits=(Credit(1, "note", 10_000),), escrow=(2, 5_000), next_seq=3)
    two_notes = (Credit(1, "note", 10_000), Credit(2, "note", 5_000))
    done = replace(inserting, phase=Phase.RECEIPT, credits=two_notes, escrow=None, committed=True,
                   txn_id="T-42", receipt_no=receipt.payment.receipt_no, printed=True)
    jam = frozenset({("bill_validator", "acceptor_jam")})
    return [
        ("attract", "attract", base, {}, None),
        ("identify", "identify", base, {"keypad_open": True}, _typed),
        ("identify-looking-up", "identify", replace(started, phase=Phase.IDENTIFYING), {}, None),
        ("identify-unknown-card", "identify",
         replace(started, phase=Phase.IDENTIFYING, message="unknown_card"), {}, None),
        ("account", "account", account, {}, None),
        ("account-offline", "account",
         replace(account, account=replace(acc, from_cache=True, as_of="2026-03-01T01:30:00Z"),
                 queue=OFFLINE), {}, None),
        ("amount", "amount", replace(amount, recently_paid=True), {}, None),
        ("amount-custom", "amount", amount, {}, _custom),
        ("amount-consent", "amount",
         replace(amount, target_minor=12_850, message="printer_unavailable_accept_screen_receipt"),
         {}, None),
        ("amount-refused", "amount", replace(amount, message="validator_unavailable"), {}, None),
        ("amount-asked", "amount", replace(amount, short_asked=5_000), {}, None),
        ("amount-nothing-owed", "amount", replace(amount, account=replace(acc, arrears_minor=0)),
         {}, None),
        ("amount-reader-down", "amount", replace(amount, validator_ok=False), {}, None),
        ("amount-paper-out", "amount", replace(amount, printer_can_print=False), {}, None),
        ("insert-empty", "insert", replace(inserting, credits=(), escrow=None),
         {"insert_left_s": 59.0}, None),
        ("insert", "insert", inserting, {"insert_left_s": 42.0}, None),
        ("insert-returned", "insert", replace(inserting, escrow=None, message="returned:host"),
         {"insert_left_s": 9.0, "last_refusal": "denomination_not_accepted"}, None),
        ("processing", "processing", replace(inserting, phase=Phase.COMMITTING, escrow=None,
                                             credits=two_notes, committed=True), {}, None),
        ("done-printed", "done", done, {"receipt": receipt}, None),
        ("done-stopped", "done",
         replace(done, credits=(Credit(1, "note", 5_000),), interrupted="acceptor_jam"),
         {"receipt": replace(receipt, payment=replace(receipt.payment, amount_minor=5_000)),
          "screen_left_s": 25.0}, None),
        ("done-qr-offline", "done",
         replace(done, printed=False, message="print_failed:paper out", queue=OFFLINE),
         {"receipt": replace(receipt, payment=replace(receipt.payment, offline=True))}, None),
        ("rating", "rating", replace(done, phase=Phase.RATING), {"receipt": receipt}, None),
        ("ended", "ended", replace(account, phase=Phase.CANCELLED), {}, None),
        ("idle-warning", "account", account, {"idle_left_s": 12.0}, None),
        ("out-of-service", "out_of_service", replace(base, phase=Phase.OUT_OF_SERVICE, faults=jam),
         {}, None),
        ("out-of-service-paid", "out_of_service",
         replace(done, phase=Phase.OUT_OF_SERVICE, faults=jam), {"receipt": receipt}, None),
    ]


def test_every_screen_in_both_languages_and_accessible_mode(kiosk):
    app, window = kiosk.app, kiosk.window
    assert checks.glyphs_distinct(), "Chinese characters render as identical boxes: CJK font missing"
    allowed = {app.view.kiosk_id, LANG_NAMES["en"], LANG_NAMES["zh_CN"]}
    problems: list[str] = []
    shots = 0
    for lang, accessible in VARIANTS:
        app.tr.switch(lang)
        app.theme.accessible = accessible
        floor = 40 if accessible else 28
        target = max(app.theme.dpi / 25.4 * 15, 1)
        for name, expected, session, ui, setup in states(app.kiosk_config.limits):
            app.preview(session, **ui)
            if setup:
                setup(kiosk)
            kiosk.frame(3)
            tag = f"{name}-{'zh' if lang == 'zh_CN' else 'en'}{'-accessible' if accessible else ''}"
            kiosk.snap(tag)
            shots += 1
            screen = app.manager.current_screen
            found = [f"shows {app.manager.current}, expected {expected}"] \
                if app.manager.current != expected else []
            found += checks.untranslated(screen, lang, allowed)
            found += checks.too_small_text(screen, floor)
            found += checks.small_targets(screen, target)
            found += checks.misplaced_actions(screen, window, app.theme)
            found += checks.overlaps(screen, window)
            found += checks.style_drift(screen, app.theme)
            found += checks.kinsoku_breaks(screen)
            if name.startswith("done-qr"):
                found += checks.qr_too_small(screen.ids.qr, window, app.theme.dpi / 25.4 * 30)
            problems += [f"{tag}: {p}" for p in found]
            screen.reset()
    app.preview(None)
    assert not app.tr.missing, f"strings with no translation: {sorted(app.tr.missing)}"
    assert not problems, "\n".join(problems)
    assert shots == len(VARIANTS) * len(states(app.kiosk_config.limits))


def test_step_indicator_and_offline_banner_follow_the_session(kiosk):
    app = kiosk.app
    for _name, expected, session, ui, _setup in states(app.kiosk_config.limits):
        app.preview(session, **ui)
        kiosk.frame()
        step = {"identify": 1, "account": 1, "amount": 2, "insert": 3, "processing": 3, "done": 4,
                "rating": 4}.get(expected, 0)
        assert app.view.step == step, expected
        banner = [w for w in checks.text_widgets(app.manager.current_screen)
                  if w.text.startswith(("Offline:", "网络暂时断了"))]
        assert bool(banner) == session.offline, expected
    app.preview(None)
