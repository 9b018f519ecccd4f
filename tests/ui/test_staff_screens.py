"""Staff screens driven by touch through the real app: the hidden corner, the PIN pad (and its
lockout), maintenance diagnostics with injected faults, clearing a jam, the operator's blind
count with a variance and its printed receipt, the daily report, a reprint, role separation,
and the session ending on idle — each action checked in the audit log."""

from __future__ import annotations

import re

import pytest

from drivers import interfaces as d
from kiosk.flow.session import Phase
from tests.staff.conftest import CHEAP, MT_PIN, OP_PIN
from tests.ui.test_faults import to_insert
from tests.ui.test_payment_journeys import insert_note, screen_texts

pytestmark = pytest.mark.ui


def add_staff(kiosk) -> None:
    from kiosk.staff.auth import StaffAuth

    auth = StaffAuth(kiosk.db, kiosk.staff.audit, params=CHEAP)
    auth.add_user("op1", "operator", OP_PIN, "test")
    auth.add_user("mt1", "maintenance", MT_PIN, "test")


@pytest.fixture
def staff_kiosk(kiosk):
    add_staff(kiosk)
    return kiosk


def hold_corner(kiosk, seconds: float = 3.1) -> None:
    """The hidden gesture: hold the top-left corner."""
    from kivy.tests.common import UnitTestTouch

    from kiosk.screens.staff.common import StaffCorner

    corner = next(w for w in kiosk.current_screen().walk(restrict=True)
                  if isinstance(w, StaffCorner))
    x, y = corner.to_window(corner.x + 5, corner.top - 5)
    touch = UnitTestTouch(x, y)
    with kiosk.fake_time.frozen():  # the hold lasts what was skipped, however slow the frames
        touch.touch_down()
        kiosk.frame()
        kiosk.skip(seconds)
        touch.touch_up()
        kiosk.frame()


def type_keys(kiosk, text: str) -> None:
    for ch in text:
        kiosk.press(text=ch)


def log_in(kiosk, user: str, pin: str) -> None:
    hold_corner(kiosk)
    kiosk.wait_screen("staff_login")
    type_keys(kiosk, user)
    kiosk.press("next")
    type_keys(kiosk, pin)
    kiosk.press("login")


def idle(kiosk) -> None:
    kiosk.pump(lambda: not kiosk.app.staff.busy, 15, "staff work done")


def audit_actions(kiosk) -> list[str]:
    return [e.action for e in kiosk.staff.audit.entries()]


def intents(kiosk) -> set[str]:
    return {b.intent for b in kiosk.buttons()}


def test_a_short_touch_on_the_corner_opens_nothing(staff_kiosk):
    hold_corner(staff_kiosk, 1.0)
    staff_kiosk.frame(3)
    assert staff_kiosk.screen == "attract" and not staff_kiosk.app.staff.active


def test_maintenance_sees_faults_clears_a_jam_and_cannot_collect(staff_kiosk):
    kiosk = staff_kiosk
    kiosk.hub.get("printer").command("paper out")
    log_in(kiosk, "mt1", MT_PIN)
    kiosk.wait_screen("staff_home")
    idle(kiosk)
    assert {"diagnostics", "faults", "self_tests"} <= intents(kiosk)
    assert not {"collect", "report", "reprint"} & intents(kiosk)  # only what the role may do
    assert "mt1 · 维护" in screen_texts(kiosk)

    kiosk.press("diagnostics")
    kiosk.wait_screen("staff_diag")
    idle(kiosk)
    rows = {r["name"]: r for r in kiosk.app.staff.diag_rows}
    assert rows["小票打印机"]["status"] == "故障" and "paper out" in rows["小票打印机"]["reason"]
    assert rows["计费服务器"]["status"] == "正常" and rows["上传队列"]["status"] == "正常"
    assert "paper out" in screen_texts(kiosk)
    kiosk.snap("staff-journey-diag-paper-out")
    kiosk.press("force_sync")
    idle(kiosk)
    assert "同步完成" in kiosk.app.staff.message

    # a jam the note reader still reports cannot be cleared by staff
    validator = kiosk.hub.get("bill-validator")
    validator.command("jam")
    kiosk.pump(lambda: kiosk.session.phase == Phase.OUT_OF_SERVICE, 10, "locked")
    assert kiosk.screen == "staff_diag"  # the staff screen stays
    kiosk.press("back")
    kiosk.wait_screen("staff_home")
    kiosk.press("faults")
    kiosk.wait_screen("staff_faults")
    idle(kiosk)
    assert "有一张钞票卡在了入钞口。" in screen_texts(kiosk)
    kiosk.press("clear")
    idle(kiosk)
    assert kiosk.app.staff.message_error and "还不能清除" in kiosk.app.staff.message
    validator.command("clear")  # someone pulls the note out: the reader says so itself
    kiosk.pump(lambda: kiosk.session.phase == Phase.IDLE, 10, "unlocked by the device")

    # a jam recorded while the reader no longer reports it (fixed with the power off)
    kiosk.term.events.post(d.DeviceFault("bill_validator", "acceptor_jam", "acceptor jam"))
    kiosk.pump(lambda: kiosk.session.phase == Phase.OUT_OF_SERVICE, 10, "locked again")
    kiosk.press("refresh")
    idle(kiosk)
    kiosk.snap("staff-journey-faults-jam")
    kiosk.press("clear")
    idle(kiosk)
    assert kiosk.app.staff.message == "故障已清除。" and kiosk.app.staff.fault_rows == []
    assert kiosk.staff.faults.active() == []
    kiosk.pump(lambda: kiosk.session.phase == Phase.IDLE, 10, "unlocked by staff")

    # collection is the operator's: no button, and the back-end refuses it anyway
    kiosk.press("back")
    kiosk.wait_screen("staff_home")
    kiosk.app.staff.go("staff_collect")
    # the refusal is a job's answer: wait for it, not only for no job running (on a busy machine
    # the job may not have started yet)
    kiosk.pump(lambda: kiosk.app.staff.message, 15, "the collection refused")
    idle(kiosk)
    assert kiosk.app.staff.message == "您的角色不能进行此操作。"
    kiosk.press("back")
    kiosk.wait_screen("staff_home")
    kiosk.press("logout")
    kiosk.wait_screen("attract")
    actions = audit_actions(kiosk)
    for action in ("login", "diagnostics", "force_sync", "permission_denied", "fault_cleared",
                   "logout"):
        assert action in actions, action
    assert actions[0] == "logout"  # newest first


def test_operator_counts_blind_sees_the_variance_and_gets_receipts(staff_kiosk):
    kiosk = staff_kiosk
    to_insert(kiosk)
    insert_note(kiosk, 10_000)
    kiosk.press("finish")
    kiosk.wait_screen("done")
    kiosk.pump(lambda: kiosk.session.printed is True, 10, "receipt printed")
    receipt_no = kiosk.session.receipt_no
    kiosk.press("continue")
    kiosk.wait_screen("rating")
    kiosk.press("skip")
    kiosk.wait_screen("attract")
    kiosk.hub.get("bill-validator").command("cashbox-remove")
    kiosk.wait_screen("out_of_service")

    log_in(kiosk, "op1", OP_PIN)  # the corner works on the out-of-service screen too
    kiosk.wait_screen("staff_home")
    idle(kiosk)
    assert {"collect", "report", "reprint", "faults"} <= intents(kiosk)
    assert not {"diagnostics", "self_tests"} & intents(kiosk)
    kiosk.press("collect")
    kiosk.wait_screen("staff_collect")
    idle(kiosk)
    (row,) = kiosk.app.staff.batch_rows
    kiosk.press("count")
    kiosk.wait_screen("staff_count")
    kiosk.press("denom_5000")
    kiosk.press(text="1")  # one ¥50 note found where the journal has one ¥100 note
    texts = screen_texts(kiosk)
    assert "¥50 × 1" in texts and "已清点：1张，¥50.00" in texts
    assert "¥100.00" not in kiosk.app.staff.count_total and "账面" not in texts  # blind
    kiosk.snap("staff-journey-count")
    kiosk.press("submit_count")
    kiosk.wait_screen("staff_counted")
    idle(kiosk)
    staff = kiosk.app.staff
    assert staff.counted_variance and "-¥50.00" in staff.counted_headline
    assert staff.printed_text == "小票已打印。"
    kiosk.snap("staff-journey-counted")
    printer = kiosk.hub.get("printer")
    slip = "\n".join(printer.wait_receipt(2, 5)["lines"]).replace("￥", "¥")
    assert row["batch_id"] in slip and "差异 Variance: -¥50.00" in slip

    kiosk.press("done")
    kiosk.wait_screen("staff_home")
    kiosk.press("report")
    kiosk.wait_screen("staff_report")
    idle(kiosk)
    assert any(r["name"] == "交易笔数/金额" for r in staff.report_rows)
    kiosk.press("print_report")
    idle(kiosk)
    assert staff.printed_text == "报表已打印。" and "第1号" in staff.report_title
    assert "日结报表" in str(printer.wait_receipt(3, 5))

    kiosk.press("back")
    kiosk.wait_screen("staff_home")
    kiosk.press("reprint")
    kiosk.wait_screen("staff_reprint")
    idle(kiosk)
    type_keys(kiosk, receipt_no.rsplit("-", 1)[1].lstrip("0"))
    assert staff.reprint_text == receipt_no
    kiosk.press("reprint")
    idle(kiosk)
    assert receipt_no in staff.message
    again = printer.wait_receipt(4, 5)
    assert receipt_no in "\n".join(again["lines"]) and "补打" in again["lines"][-1]

    kiosk.hub.get("bill-validator").command("cashbox-insert")
    kiosk.pump(lambda: kiosk.session.phase == Phase.IDLE, 10, "unlocked by the cash box")
    assert kiosk.screen == "staff_reprint"
    kiosk.press("back")
    kiosk.wait_screen("staff_home")
    idle(kiosk)
    kiosk.press("logout")
    kiosk.wait_screen("attract")
    actions = audit_actions(kiosk)
    for action in ("collection_closed", "collection", "report", "reprint", "logout"):
        assert action in actions, action


def test_wrong_pins_lock_out_and_say_how_long(staff_kiosk):
    kiosk = staff_kiosk
    kiosk.press("language")
    hold_corner(kiosk)
    kiosk.wait_screen("staff_login")
    type_keys(kiosk, "op1")
    kiosk.press("next")
    for attempt in range(4):
        type_keys(kiosk, "9999")
        kiosk.press("login")
        idle(kiosk)
        message = kiosk.app.staff.message
        if attempt < 3:
            assert message == "Wrong staff ID or PIN. Please try again.", message
        assert kiosk.current_screen().pin == ""  # typed again from the start
    # The lockout is 30 s and its clock runs while the test does: a busy machine may have used
    # a few seconds of it already, but never more than the time since the lockout began.
    waited = re.fullmatch(r"Too many wrong attempts\. Please try again in (\d+) s\.", message)
    assert waited and 15 <= int(waited.group(1)) <= 30, message
    kiosk.snap("staff-journey-locked-out-en")
    type_keys(kiosk, OP_PIN)  # even the right PIN is not checked while locked out
    kiosk.press("login")
    idle(kiosk)
    assert kiosk.screen == "staff_login" and "Too many wrong attempts" in kiosk.app.staff.message
    kiosk.press("back")
    kiosk.press("back")
    kiosk.wait_screen("attract")
    assert kiosk.app.tr.lang == "zh_CN"  # the next resident starts in Chinese
    actions = audit_actions(kiosk)
    assert actions.count("login_failed") == 3 and actions.count("login_locked_out") == 2


def test_the_staff_session_ends_when_nobody_touches_the_screen(staff_kiosk):
    kiosk = staff_kiosk
    log_in(kiosk, "mt1", MT_PIN)
    kiosk.wait_screen("staff_home")
    idle(kiosk)
    kiosk.press("language")
    limit = kiosk.app.staff.idle_s
    with kiosk.fake_time.frozen():  # the countdown reads what was skipped, not a slow machine
        kiosk.skip(limit - 10)
        kiosk.pump(lambda: kiosk.app.staff.idle_warning, 5, "idle warning")
        assert "logging out in 10 s" in kiosk.app.staff.idle_warning
    kiosk.snap("staff-journey-idle-warning-en")
    kiosk.tap(kiosk.button("logout").parent)  # a touch keeps the session
    kiosk.pump(lambda: not kiosk.app.staff.idle_warning, 5, "warning gone")
    kiosk.skip(limit + 1)
    kiosk.wait_screen("attract")
    assert not kiosk.app.staff.active and kiosk.app.tr.lang == "zh_CN"
    kiosk.pump(lambda: audit_actions(kiosk)[0] == "session_expired", 5, "expiry audited")


def test_stopping_the_app_logs_the_staff_member_out(staff_kiosk):
    kiosk = staff_kiosk
    log_in(kiosk, "op1", OP_PIN)
    kiosk.wait_screen("staff_home")
    idle(kiosk)
    kiosk.app.close_services()
    assert audit_actions(kiosk)[0] == "logout"


def test_the_app_sends_heartbeats_with_the_audit_chain_head(staff_kiosk):
    kiosk = staff_kiosk
    head = kiosk.staff.audit.head()  # the staff users were added (and audited) by the fixture

    def sent_after_setup() -> list:
        return [hb for hb in kiosk.server.ledger.dump()["heartbeats"] if hb["audit_head"] == head]

    # The first heartbeat goes 5 s after the start, then one a minute. On a busy machine the
    # fixture itself may outlast those 5 s, so move the clock past the next one as well.
    kiosk.skip(6)
    kiosk.pump(lambda: kiosk.server.ledger.dump()["heartbeats"], 10, "a heartbeat")
    kiosk.skip(61)  # and the next one: every heartbeat, not only the first, gets through
    # the server keeps a kiosk's latest heartbeat only: count what the app had acknowledged
    kiosk.pump(lambda: kiosk.app.heartbeat.sent >= 2, 60, "a second heartbeat acknowledged")
    (hb, *_) = kiosk.pump(sent_after_setup, 10, "a heartbeat carrying the audit head")
    assert hb["kiosk_id"] == "KIOSK-0001" and head != "0" * 64
    assert set(hb["devices"]) == {"bill_validator", "coin_acceptor", "card_reader", "printer",
                                  "scanner"}


def test_the_pin_is_checked_off_the_ui_thread_while_the_screen_shows_progress(staff_kiosk,
                                                                             monkeypatch):
    import threading
    import time

    from kiosk.staff import auth

    kiosk, checked_on = staff_kiosk, []
    real = auth.verify_pin

    def slow_verify(pin: str, stored: str) -> bool:  # as slow as the production cost, or more
        checked_on.append(threading.current_thread().name)
        time.sleep(0.8)
        return real(pin, stored)

    monkeypatch.setattr(auth, "verify_pin", slow_verify)
    hold_corner(kiosk)
    type_keys(kiosk, "op1")
    kiosk.press("next")
    type_keys(kiosk, OP_PIN)
    kiosk.press("login")
    assert kiosk.app.staff.busy and "正在核对密码…" in screen_texts(kiosk)
    assert kiosk.button("login").disabled  # no second check while one runs
    kiosk.wait_screen("staff_home")
    assert checked_on == ["staff-worker"]


def test_a_staff_card_opens_the_pin_pad_for_its_user(staff_kiosk):
    """Card + PIN: the card names the staff id, the PIN is still asked; a resident's card
    goes to the resident's screens."""
    kiosk = staff_kiosk
    kiosk.staff.cards.register("op1", "0F0E0D0C0B", "test")
    reader = kiosk.hub.get("card-reader")
    reader.present("0F0E0D0C0B")
    kiosk.wait_screen("staff_login")
    login = kiosk.current_screen()
    assert login.mode == "pin" and login.user_id == "op1"
    reader.remove()
    type_keys(kiosk, OP_PIN)
    kiosk.press("login")
    idle(kiosk)
    kiosk.wait_screen("staff_home")
    assert kiosk.app.staff.session.user_id == "op1"
    assert "login" in audit_actions(kiosk)
