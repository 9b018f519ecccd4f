"""The reducer's part of a prepaid purchase (kiosk/flow/session.py): refused up front without
the card or the utility, the commit names the card, and the receipt screen stays while the
card is written or asked back."""

from __future__ import annotations

from dataclasses import replace

from kiosk.flow import commands as c
from kiosk.flow import events as e
from kiosk.flow.session import Phase, Session, advance

PREPAID = e.AccountInfo("3101000101", "吴*军", "东风村**号", 0, 0, prepaid=True)
CARD = "1A2B3C4D"


def tapped(account: e.AccountInfo = PREPAID, **kw) -> Session:
    s, _ = advance(Session(printer_can_print=True), e.CardTapped(CARD, "S1"))
    s, _ = advance(s, e.AccountFound("S1", account))
    return replace(s, **kw)


def test_a_prepaid_purchase_needs_the_card_and_the_utility():
    s, _ = advance(tapped(), e.ContinuePressed())
    assert s.phase == Phase.AMOUNT
    s, _ = advance(tapped(queue=e.QueueState(online=False)), e.ContinuePressed())
    assert (s.phase, s.message) == (Phase.ACCOUNT, "prepaid_needs_online")
    s, _ = advance(Session(), e.AccountEntered("3101000101", "S2"))
    s, _ = advance(s, e.AccountFound("S2", PREPAID))
    s, _ = advance(s, e.ContinuePressed())
    assert (s.phase, s.message) == (Phase.ACCOUNT, "prepaid_needs_card")
    ordinary = replace(PREPAID, prepaid=False)
    s, _ = advance(tapped(ordinary, queue=e.QueueState(online=False)), e.ContinuePressed())
    assert s.phase == Phase.AMOUNT  # an ordinary account still pays offline


def test_the_commit_names_the_card_only_for_a_prepaid_account():
    for account, card in ((PREPAID, CARD), (replace(PREPAID, prepaid=False), "")):
        s = replace(tapped(account), phase=Phase.INSERTING, target_minor=1000)
        s, _ = advance(s, e.NoteEscrowed(1000))
        s, _ = advance(s, e.NoteCredited(1000))
        s, cmds = advance(s, e.FinishPressed())
        commit = [x for x in cmds if isinstance(x, c.CommitPayment)]
        assert commit and commit[0].prepaid_card == card


def test_the_receipt_waits_for_the_card_write():
    s = replace(tapped(), phase=Phase.RECEIPT, txn_id="S1", receipt_no="R1")
    s, _ = advance(s, e.CardWriteChanged("S0", "card_needed"))  # another payment's write
    assert s.card_write == ""
    for status in ("writing", "card_needed"):
        s, _ = advance(s, e.CardWriteChanged("S1", status))
        s2, cmds = advance(s, e.TimerExpired("screen"))
        assert s2.phase == Phase.RECEIPT and [type(x) for x in cmds] == [c.StartTimer]
    for status in ("done", "deferred", "stuck"):
        s3, _ = advance(s, e.CardWriteChanged("S1", status))
        assert advance(s3, e.TimerExpired("screen"))[0].phase == Phase.RATING


def test_the_receipt_screen_says_what_the_card_write_needs():
    from kiosk.ui.i18n import Translator
    from kiosk.ui.present import CARD_WRITE, UiState, present

    tr = Translator("en")
    s = replace(tapped(), phase=Phase.RECEIPT, txn_id="S1", receipt_no="R1", printed=True)
    assert present(s, tr._, UiState()).card_write_text == ""
    texts = {st: present(replace(s, card_write=st), tr._, UiState()).card_write_text
             for st in ("writing", "card_needed", "deferred", "done", "stuck")}
    assert "keep your card on the reader" in texts["writing"]
    assert "put your card back" in texts["card_needed"]
    assert len(set(texts.values())) == 5 and all(texts.values())
    zh = Translator("zh_CN")
    assert all(zh._(CARD_WRITE[st]) != CARD_WRITE[st] for st in CARD_WRITE)  # translated
    refused = present(replace(tapped(), message="prepaid_needs_online"), tr._, UiState())
    assert "network is down" in refused.message
