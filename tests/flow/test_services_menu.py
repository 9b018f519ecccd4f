"""The services menu and its errands (kiosk/flow/services_menu.py) through the session reducer:
one decision per step, the request queued once, answers for another session dropped."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow import services_menu as sm
from kiosk.flow.session import Phase, Session, advance

ACC = e.AccountInfo("1000000016", "张*明", "幸福*区", 12000, 0)


def on_account() -> Session:
    return Session(phase=Phase.ACCOUNT, session_id="S1", account=ACC)


def run(s: Session, *events: e.Event) -> tuple[Session, list[c.Command]]:
    cmds: list[c.Command] = []
    for ev in events:
        s, more = advance(s, ev)
        cmds += more
    return s, cmds


def test_account_screen_opens_the_menu_and_back_returns():
    s, _ = run(on_account(), e.ServicesPressed())
    assert s.phase == Phase.SERVICES
    s, _ = run(s, e.BackPressed())
    assert s.phase == Phase.ACCOUNT and s.account == ACC


def test_history_is_fetched_for_this_session_and_a_late_answer_is_dropped():
    s, cmds = run(on_account(), e.ServicesPressed(), e.ErrandChosen("history"))
    assert s.phase == Phase.ERRAND and s.errand.step == "history"
    assert c.FetchHistory("S1", ACC.account_no) in cmds
    h = sm.History(ACC.account_no, (sm.Month("2026-10", 210, 11760, 11760, "kiosk"),), (), "t")
    other, _ = run(s, e.HistoryFetched("S0", h))
    assert other.errand.history is None  # another session's answer
    s, _ = run(s, e.HistoryFetched("S1", h))
    assert s.errand.history == h
    s, cmds = run(s, e.PrintPressed())
    assert c.PrintSlip("S1") in cmds


def test_fault_report_steps_and_one_queue_command():
    s, _ = run(on_account(), e.ServicesPressed(), e.ErrandChosen("fault"))
    assert s.errand.step == "category"
    s, _ = run(s, e.OptionChosen("no_power"))
    assert s.errand.step == "phone"
    s, _ = run(s, e.PhoneEntered("12345678901"))
    assert s.errand.step == "phone" and s.message == "phone_invalid"
    s, _ = run(s, e.PhoneEntered("138 1234 1234"))
    assert s.errand.step == "confirm" and s.errand.phone == "13812341234" and not s.message
    s, cmds = run(s, e.ContinuePressed())
    queue = [x for x in cmds if isinstance(x, c.QueueRequest)]
    assert queue == [c.QueueRequest("S1", "fault", ACC.account_no, (
        ("callback_phone", "13812341234"), ("category", "no_power"), ("kind", "fault"),
        ("reasons", [])))]
    s, _ = run(s, e.RequestQueued("S1", "sr-S1-fault", "K1"))
    assert s.errand.step == "done" and s.errand.local_ref == "K1"
    s, cmds = run(s, e.ContinuePressed())
    assert s.phase == Phase.SERVICES and not any(isinstance(x, c.QueueRequest) for x in cmds)


def test_confirm_twice_queues_once():
    s, _ = run(on_account(), e.ServicesPressed(), e.ErrandChosen("complaint"),
               e.OptionChosen("billing"), e.ContinuePressed())
    assert s.errand.step == "confirm"
    s, first = run(s, e.ContinuePressed(), e.RequestQueued("S1", "r1", "K1"))
    s, second = run(s, e.ContinuePressed())
    assert sum(isinstance(x, c.QueueRequest) for x in first + second) == 1


def test_reasons_toggle_and_cap():
    s, _ = run(on_account(), e.ServicesPressed(), e.ErrandChosen("complaint"),
               e.OptionChosen("waiting"))
    assert s.errand.step == "reasons"
    s, _ = run(s, e.OptionChosen("repeated"), e.OptionChosen("urgent"),
               e.OptionChosen("elderly_at_home"))
    s, _ = run(s, e.OptionChosen("call_before_visit"))
    assert s.message == "too_many_reasons" and len(s.errand.reasons) == 3
    s, _ = run(s, e.OptionChosen("urgent"))
    assert s.errand.reasons == ("repeated", "elderly_at_home")



def test_ebill_body_says_what_was_chosen():
    errand = replace(sm.start("ebill"), ebill_what="reminders", phone="19912345678")
    assert sm.body_fields(errand) == {"phone": "19912345678", "sms_bill": False, "reminder": True}


def test_delivered_reference_only_for_its_request():
    errand = sm.queued(sm.start("fault"), "r1", "K1")
    assert sm.delivered(errand, "r2", "SR1").utility_ref == ""
    assert sm.delivered(errand, "r1", "SR1").utility_ref == "SR1"


@pytest.mark.parametrize("phone,ok", [("13800138000", True), ("19912345678", True),
                                      ("12800138000", False), ("1380013800", False),
                                      ("138001380001", False), ("", False)])
def test_phone_format(phone, ok):
    assert sm.phone_ok(phone) is ok


def test_phone_mask():
    assert sm.mask_phone("13812341234") == "138****1234"


def test_idle_timer_ends_an_errand():
    s, _ = run(on_account(), e.ServicesPressed(), e.ErrandChosen("fault"))
    s, _ = run(s, e.TimerExpired("idle"))
    assert s.phase == Phase.IDLE and s.errand is None and s.account is None


def test_ebill_what_then_phone_then_one_queue_command():
    s, cmds = run(on_account(), e.ServicesPressed(), e.ErrandChosen("ebill"),
                  e.OptionChosen("reminders"), e.PhoneEntered("19912345678"), e.ContinuePressed())
    (queue,) = [x for x in cmds if isinstance(x, c.QueueRequest)]
    assert queue.kind == "ebill" and dict(queue.fields) == {
        "phone": "19912345678", "sms_bill": False, "reminder": True}


def test_back_walks_the_steps_then_the_menu():
    s, _ = run(on_account(), e.ServicesPressed(), e.ErrandChosen("outage"),
               e.OptionChosen("street"))
    assert s.errand.step == "phone"
    s, _ = run(s, e.BackPressed())
    assert s.errand.step == "category"
    s, _ = run(s, e.BackPressed())
    assert s.phase == Phase.SERVICES and s.errand is None
