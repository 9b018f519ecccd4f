"""The reference server's prepaid purchases (billing_server/prepaid.py): one token per recorded
payment of a prepaid account, its MAC made with the meter key, the card's sequence and
cumulative units counting up, and a ledger of the previous schema migrating with its data."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

from billing_server import prepaid
from billing_server.ledger import Ledger
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS, DEMO_NOTICES, DEMO_PREPAID_CARDS
from tests.billing_server.conftest import make_payment

CARD, ACCT = next(iter(DEMO_PREPAID_CARDS.items()))


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(tmp_path / "ledger.db")
    led.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
    yield led
    led.close()


def pay(led: Ledger, txn: str, amount_minor: int, account_no: str = ACCT) -> None:
    body = make_payment(txn_id=txn, account_no=account_no, amount_minor=amount_minor,
                        notes={"100": amount_minor // 100}, coins={})
    out = led.record_payment(body, txn)
    assert out.status == 201


def token(led: Ledger, txn: str, card: str = CARD) -> dict:
    out = prepaid.issue(led, {"kiosk_id": "KIOSK-001", "txn_id": txn, "card_uid": card})
    return json.loads(out.body)


def test_a_prepaid_payment_gets_one_token_the_meter_can_check(ledger):
    pay(ledger, "T-1", 5_300)
    t = token(ledger, "T-1")
    assert t["units_centi_kwh"] == 10_000 and t["sequence"] == 1 and t["cumulative_centi_kwh"] == 10_000
    expected = prepaid.mac(prepaid.DEMO_METER_KEY, CARD, 1, t["purchase_no"], 10_000, 10_000,
                           t["key_id"])
    assert t["mac"] == expected.hex().upper()
    assert token(ledger, "T-1") == t  # asked again: the same purchase, not a second one


def test_the_card_sequence_and_cumulative_count_up(ledger):
    pay(ledger, "T-1", 1_000)
    pay(ledger, "T-2", 2_000)
    first, second = token(ledger, "T-1"), token(ledger, "T-2")
    assert (first["sequence"], second["sequence"]) == (1, 2)
    assert second["cumulative_centi_kwh"] == first["units_centi_kwh"] + second["units_centi_kwh"]
    assert second["units_centi_kwh"] == 2_000 * 100 // prepaid.TARIFF_FEN_PER_KWH
    assert isinstance(second["units_centi_kwh"], int)


def test_refusals_change_nothing(ledger):
    with pytest.raises(prepaid.PaymentNotRecorded):
        token(ledger, "T-9")
    pay(ledger, "T-3", 1_000, account_no=DEMO_ACCOUNTS[0].account_no)
    with pytest.raises(prepaid.NotPrepaid):
        token(ledger, "T-3")
    pay(ledger, "T-4", 1_000)
    other_card = [uid for uid, acct in DEMO_PREPAID_CARDS.items() if acct != ACCT][0]
    with pytest.raises(prepaid.WrongCard):
        token(ledger, "T-4", other_card)
    assert token(ledger, "T-4")["sequence"] == 1  # nothing was used up by the refusals


def test_a_v4_ledger_migrates_with_its_data(tmp_path):
    path = tmp_path / "old.db"
    led = Ledger(path)
    led.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
    pay(led, "T-OLD", 1_000, account_no=DEMO_ACCOUNTS[0].account_no)
    led.close()
    with closing(sqlite3.connect(path)) as c:  # back to v4: drop what v5, v6 and v7 added
        c.executescript("DROP TABLE usage_history; DROP TABLE service_requests;"
                        "DROP TABLE ebill_signups; DROP TABLE payment_gateway_refs;"
                        "DROP TABLE payment_links; DROP TABLE prepaid_tokens; DROP TABLE prepaid_cards;"
                        "ALTER TABLE accounts DROP COLUMN prepaid; PRAGMA user_version=4;")
    led = Ledger(path)
    led.seed(DEMO_ACCOUNTS, dict(DEMO_CARDS), DEMO_NOTICES)
    try:
        assert [p["txn_id"] for p in led.payments()] == ["T-OLD"]
        assert led.account(ACCT)["prepaid"] == 1
        assert led.card(CARD) == {"card_uid": CARD, "account_no": ACCT}
    finally:
        led.close()
