"""Faults in the middle of a session, through the real app: each ends on the right screen and
no money is lost — what the validator credited is in the journal and reaches the billing server."""

from __future__ import annotations

import pytest

from kiosk.flow.session import Phase
from tests.ui.test_payment_journeys import CARD, CARD_ACC, delivered, insert_note, screen_texts

pytestmark = pytest.mark.ui


def to_amount(kiosk) -> None:
    reader = kiosk.hub.get("card-reader")
    reader.present(CARD)
    kiosk.wait_screen("account")
    reader.remove()
    kiosk.press("continue")
    kiosk.wait_screen("amount")


def to_insert(kiosk, consent: bool = False) -> None:
    to_amount(kiosk)
    kiosk.press("pay")
    if consent:
        kiosk.pump(lambda: kiosk.current_screen().mode == "consent", 5, "consent panel")
        kiosk.snap("fault-paper-out-consent")
        kiosk.press("pay")
    kiosk.wait_screen("insert")


def journal_total(kiosk) -> int:
    return sum(p["amount_minor"] for p in kiosk.journal.payments())


def test_validator_jam_during_insertion_commits_the_credit_and_locks(kiosk):
    to_insert(kiosk)
    insert_note(kiosk, 5_000)
    kiosk.hub.get("bill-validator").command("jam")
    kiosk.wait_screen("done")  # the credited note is paid, with its receipt
    assert journal_total(kiosk) == 5_000
    kiosk.pump(lambda: kiosk.session.printed is not None, 10, "receipt decided")
    kiosk.press("continue")
    kiosk.wait_screen("rating")
    kiosk.press("skip")
    kiosk.wait_screen("out_of_service")  # the next resident finds it locked
    texts = screen_texts(kiosk)
    assert "有一张钞票卡在了入钞口" in texts
    assert "KIOSK-0001" in texts and "95598" in texts
    kiosk.snap("fault-jam-out-of-service")
    (paid,) = delivered(kiosk)
    assert paid["amount_minor"] == 5_000
    kiosk.hub.get("bill-validator").command("clear")
    kiosk.wait_screen("attract")


def test_jam_before_any_credit_says_no_money_was_taken(kiosk):
    to_insert(kiosk)
    kiosk.hub.get("bill-validator").command("jam")
    kiosk.wait_screen("out_of_service")
    assert "机器没有收您的钱" in screen_texts(kiosk)
    assert kiosk.journal.payments() == []


def test_network_lost_during_the_session_queues_the_payment(kiosk):
    reader = kiosk.hub.get("card-reader")
    reader.present(CARD)
    kiosk.wait_screen("account")
    reader.remove()
    kiosk.server.stop()  # the network goes; the resident carries on
    kiosk.press("continue")
    kiosk.wait_screen("amount")
    kiosk.press("pay")
    kiosk.wait_screen("insert")
    insert_note(kiosk, 10_000)
    insert_note(kiosk, 5_000)
    kiosk.press("finish")
    kiosk.wait_screen("done")
    txn = kiosk.session.txn_id
    kiosk.pump(lambda: kiosk.app.view.offline, 10, "offline banner")
    assert "网络暂时断了：缴费先存在本机，网络好了自动上传，不影响到账。" in screen_texts(kiosk)
    kiosk.snap("fault-network-done")
    assert journal_total(kiosk) == 15_000
    queued = kiosk.outbox.stats()  # one reading: the sync worker moves the row between states
    assert queued.pending + queued.in_flight >= 1
    kiosk.press("continue")
    kiosk.wait_screen("rating")
    kiosk.press("rate4")
    kiosk.wait_screen("attract")
    assert kiosk.app.view.offline  # still queued: the banner stays, calmly
    kiosk.server.start()  # the network is back
    kiosk.term.drain()
    (paid,) = kiosk.server.ledger.payments()
    assert paid["txn_id"] == txn and paid["amount_minor"] == 15_000


def test_paper_out_before_payment_asks_for_an_on_screen_receipt(kiosk):
    kiosk.hub.get("printer").command("paper out")
    to_insert(kiosk, consent=True)
    insert_note(kiosk, 2_000)
    kiosk.press("finish")
    kiosk.wait_screen("done")
    session = kiosk.session
    assert session.printed is False and session.receipt_no
    qr = kiosk.current_screen().ids.qr
    kiosk.pump(lambda: qr.modules > 0, 5, "QR code drawn")
    short_no = session.receipt_no.rsplit("-", 1)[1]  # the day's sequence, large
    assert session.txn_id.upper() in qr.data and short_no in screen_texts(kiosk)
    assert "小票显示在屏幕上" in screen_texts(kiosk)
    kiosk.snap("fault-paper-out-done")
    assert journal_total(kiosk) == 2_000
    (paid,) = delivered(kiosk)
    assert paid["amount_minor"] == 2_000


def test_paper_runs_out_while_printing_the_payment_stands(kiosk):
    to_insert(kiosk)
    insert_note(kiosk, 10_000)
    kiosk.hub.get("printer").command("paper out-after 2")
    kiosk.press("finish")
    kiosk.wait_screen("done")
    kiosk.pump(lambda: kiosk.session.printed is False, 10, "print failure noticed")
    assert "打印机没能打印" in screen_texts(kiosk)
    assert kiosk.current_screen().ids.qr.modules > 0
    assert not kiosk.app.view.can_reprint  # the QR code is the receipt now
    kiosk.snap("fault-paper-mid-print")
    assert journal_total(kiosk) == 10_000
    (paid,) = delivered(kiosk)
    assert paid["amount_minor"] == 10_000


def test_insert_timeout_with_a_note_credited_commits_it(kiosk):
    to_insert(kiosk)
    insert_note(kiosk, 1_000)
    timeout = kiosk.app.kiosk_config.limits.insert_timeout_s
    with kiosk.fake_time.frozen():  # the countdown reads what was skipped, not a slow machine
        kiosk.frame(2)
        left = kiosk.term.timers.remaining("insert")
        assert 0 < left <= timeout
        kiosk.skip(left - 9.5)
        kiosk.pump(lambda: kiosk.app.view.countdown_text.startswith("10秒内"), 5, "countdown at 10 s")
        assert "将自动完成缴费" in kiosk.app.view.countdown_text  # money in: it finishes
        assert kiosk.app.view.countdown_urgent
    kiosk.skip(11)
    kiosk.wait_screen("done")  # nobody touched Finish: the note is paid, not dropped
    assert journal_total(kiosk) == 1_000
    (paid,) = delivered(kiosk)
    assert paid["amount_minor"] == 1_000


def test_idle_timeout_while_choosing_clears_the_session(kiosk):
    kiosk.press("language")
    kiosk.press("accessible")
    assert kiosk.app.theme.accessible and kiosk.app.tr.lang == "en"
    reader = kiosk.hub.get("card-reader")
    reader.present(CARD)
    kiosk.wait_screen("account")
    reader.remove()
    idle = kiosk.app.kiosk_config.limits.idle_timeout_s * 2  # accessible mode: longer timeouts
    kiosk.skip(idle - 10)
    kiosk.pump(lambda: kiosk.app.view.idle_warning, 5, "idle warning")
    assert "Still there?" in kiosk.app.view.idle_warning
    kiosk.tap(kiosk.button("continue").parent)  # any touch: still here, the timer restarts
    kiosk.pump(lambda: not kiosk.app.view.idle_warning, 5, "warning gone")
    assert kiosk.screen == "account"
    kiosk.skip(idle + 1)
    kiosk.wait_screen("attract")
    assert kiosk.session.phase == Phase.IDLE and kiosk.session.account is None
    assert kiosk.app.tr.lang == "zh_CN" and not kiosk.app.theme.accessible
    assert kiosk.journal.payments() == []


def test_keypad_left_open_returns_to_attract(kiosk):
    kiosk.press("enter_account")
    kiosk.type_digits("3101")
    kiosk.skip(kiosk.app.kiosk_config.limits.idle_timeout_s + 1)
    kiosk.wait_screen("attract")
    kiosk.press("enter_account")
    assert kiosk.current_screen().entered == ""  # the digits did not wait for the next person
    assert CARD_ACC.account_no not in screen_texts(kiosk)


def test_a_note_over_the_maximum_is_given_back_with_the_reason(kiosk):
    from dataclasses import replace

    runner = kiosk.term.runner
    runner.session = replace(runner.session, config=replace(runner.session.config,
                                                            max_txn_minor=15_000))
    to_insert(kiosk)
    insert_note(kiosk, 10_000)
    validator = kiosk.hub.get("bill-validator")
    kiosk.pump(lambda: validator.state.get("note") is None, 10, "validator free")
    validator.insert_note(10_000)  # ¥200 would be over the ¥150 maximum: the host returns it
    kiosk.pump(lambda: kiosk.session.message == "returned:host", 10, "note returned")
    texts = screen_texts(kiosk)
    assert "您的钞票已退回：投入后将超过单笔最高¥150.00。请取回。" in texts
    assert kiosk.session.credited_minor == 10_000 and kiosk.app.view.inserted_text == "¥100.00"
    kiosk.snap("fault-note-returned")
    kiosk.press("finish")
    kiosk.wait_screen("done")
    assert journal_total(kiosk) == 10_000


def test_a_full_disk_mid_payment_locks_the_screen_and_hands_the_note_back(kiosk):
    import threading

    from tests.services.test_one_thread import fill_until_full

    to_insert(kiosk)
    filled = threading.Event()

    def fill() -> None:  # on the deciding thread: the connection is its own
        fill_until_full(kiosk.term.db)
        filled.set()

    kiosk.term.call_soon(fill)
    kiosk.pump(filled.is_set, 30, "database filled")
    validator = kiosk.hub.get("bill-validator")
    kiosk.pump(lambda: validator.ready_for_note, 10, "validator free")
    validator.insert_note(10_000)
    kiosk.wait_screen("out_of_service", 15)
    texts = "\n".join(label.text for label in kiosk.labels())
    assert "本机暂时无法记录缴费" in texts and kiosk.app.kiosk_config.kiosk.id in texts
    assert "缴费成功" not in texts and "¥100.00" not in texts
    kiosk.pump(lambda: validator.counters()["returned"] == 1, 10, "note handed back")
    assert validator.counters()["stacked"] == {} and kiosk.journal.payments() == []
    kiosk.snap("fault-journal-full")
