"""The staff screens' wording without a display: queue and fault summaries, the order of the
diagnostics rows, the variance headline, error messages, receipt numbers typed on a keypad."""

from __future__ import annotations

from datetime import date

from kiosk.staff.collection import CollectionResult
from kiosk.staff.faults import LockingFault
from kiosk.ui.staff import present as sp
from kiosk.ui.i18n import Translator
from kiosk.ui.staff.jobs import receipt_number

EN = Translator("en")._
ZH = Translator("zh_CN")._


def result(counted, expected, device, variance, device_variance) -> CollectionResult:
    return CollectionResult("B-1", "o", "c", "t", "op1", counted, expected, device, variance,
                            device_variance)


def test_queue_text_always_says_count_and_oldest_age():
    assert sp.queue_text({"pending": 0, "in_flight": 0}, EN) == "Nothing waiting to be sent."
    text = sp.queue_text({"pending": 2, "in_flight": 1, "oldest_pending_age_s": 754, "dead": 1}, EN)
    assert text == ("3 waiting to be sent, the oldest for 12 min. "
                    "1 refused by the server (dead letters).")
    assert sp.queue_text({"pending": 1, "oldest_pending_age_s": 7300}, ZH) == "1条等待上传，最早的已等待2小时。"


def test_diagnostics_put_faults_first_and_say_the_status_in_words():
    report = {"status": "fault", "generated_at": "2026-03-01T09:30:05+08:00", "entries": [
        {"name": "card_reader", "kind": "device", "status": "ok", "reason": "port open"},
        {"name": "billing_api", "kind": "api", "status": "fault", "reachable": False,
         "reason": "unreachable: ConnectTimeout", "status_code": None, "url": "http://x"},
        {"name": "printer", "kind": "device", "status": "degraded", "reason": "paper near end"},
        {"name": "queue", "kind": "queue", "status": "ok", "depth": 0, "dead_letters": 0,
         "oldest_pending_age_s": None},
    ]}
    rows = sp.diag_rows(report, EN)
    assert [r["name"] for r in rows] == ["Billing server", "Receipt printer", "Card reader",
                                         "Send queue"]
    assert rows[0] == {"status": "Fault", "status_role": "fault", "name": "Billing server",
                       "reason": "Unreachable (unreachable: ConnectTimeout)"}
    assert rows[1]["status_role"] == "fg" and rows[1]["status"] == "Degraded"  # red for faults only
    assert sp.diag_summary(report, ZH) == "总体：故障 · 检查时间 09:30:05"


def test_the_variance_headline_is_signed_and_flags_a_device_difference():
    even = result({10000: 1}, {10000: 1}, {10000: 1}, 0, 0)
    assert sp.variance_text(even, EN) == ("Counted ¥100.00, as the journal expects. No variance.",
                                          False)
    short = result({5000: 1}, {10000: 1}, None, -5000, None)
    text, variance = sp.variance_text(short, EN)
    assert variance and "variance -¥50.00" in text and "counters are not available" in text
    over = result({10000: 1}, {10000: 1}, {}, 0, 10000)
    text, variance = sp.variance_text(over, ZH)
    assert variance and "与纸币识别器计数相比：+¥100.00" in text


def test_errors_are_plain_words_with_the_wait():
    assert sp.error_text("locked_out", EN, 60) == ("Too many wrong attempts. "
                                                   "Please try again in 60 s.")
    assert sp.error_text("no_such_code", ZH) == "操作没有成功，请再试一次。"


def test_faults_summary_and_rows_offer_clear_only_where_allowed():
    faults = [LockingFault("bill_validator", "stacker_open", "stacker open", "t1"),
              LockingFault("bill_validator", "acceptor_jam", "jam", "t2")]
    assert sp.faults_text(faults, EN) == "Locked by 2 fault(s): The cash box has been taken out."
    rows = sp.fault_rows(faults, lambda code: code == "stacker_open", EN)
    assert [r["can_clear"] for r in rows] == [True, False]
    assert rows[1]["title"] == "A note is stuck in the note reader."


def test_receipt_numbers_from_what_was_typed():
    day = date(2026, 3, 1)
    assert receipt_number("KIOSK-0001", "42", day) == "KIOSK-0001-20260301-00042"
    assert receipt_number("KIOSK-0001", "2026022800007", day) == "KIOSK-0001-20260228-00007"


def test_a_staff_job_answered_after_its_visit_ended_is_not_shown():
    """Staff A asks for the daily report, logs out; staff B logs in: A's answer arrives."""
    from types import SimpleNamespace

    from kiosk.ui.staff.mode import StaffMode

    terminal = SimpleNamespace(config=SimpleNamespace(kiosk=SimpleNamespace(id="KIOSK-0001")),
                               staff=SimpleNamespace(auth=SimpleNamespace(idle_timeout_s=60)))
    mode = StaffMode(terminal, Translator("en"), lambda: 0.0, on_screen=lambda: None,
                     on_leave=lambda: None)
    submitted: list = []
    mode.worker = SimpleNamespace(pending=0,
                                  submit=lambda job, done, failed: submitted.append((done, failed)))
    shown: list = []
    mode.open()
    mode._run(lambda w: "A's report", shown.append)
    mode.leave(logout=False)
    mode.open()  # the next visit
    done_a, failed_a = submitted[0]
    done_a("A's report")
    failed_a(RuntimeError("A's job failed"))
    assert shown == [] and mode._error is None
    mode._run(lambda w: "B's report", shown.append)
    submitted[-1][0]("B's report")
    assert shown == ["B's report"]
