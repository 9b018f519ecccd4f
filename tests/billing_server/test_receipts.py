"""The server reads signed receipts with its own code (billing_server/receipts.py): it must agree
with the kiosk's signer on every receipt the kiosk makes and on every text that is not one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from billing_server import receipts
from kiosk.services import receipt_signing as kiosk_side
from offline_queue.signing import public_b64

ROOT = Path(__file__).resolve().parents[2]
URL = "https://pay.example.cn/v1/receipts/verify"
FACTS = kiosk_side.ReceiptFacts("KIOSK-001-20261201-00042", "T-20261201-0001", "******0010",
                                15_150, 1_796_000_000)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_a_receipt_the_kiosk_signed_verifies_at_the_server(key):
    text = kiosk_side.signed_text(FACTS, key, URL)
    for given in (text, text.split("?r=", 1)[1]):
        receipt = receipts.parse(given)
        assert (receipt.kiosk_id, receipt.receipt_no, receipt.txn_id, receipt.amount_minor) == (
            "KIOSK-001", FACTS.receipt_no, FACTS.txn_id, 15_150)
        assert receipts.signed_by(receipt, public_b64(key))
    other = Ed25519PrivateKey.generate()
    assert not receipts.signed_by(receipts.parse(text), public_b64(other))


@pytest.mark.parametrize("field,value", [(1, "T-20261201-0002"), (2, "******0028"),
                                         (3, "15151"), (4, "TQ5XW0")])
def test_a_changed_field_does_not_verify(key, field, value):
    parts = kiosk_side.signed_text(FACTS, key, URL).split("?r=", 1)[1].split(":")
    parts[field] = value
    assert not receipts.signed_by(receipts.parse(":".join(parts)), public_b64(key))


@pytest.mark.parametrize("text", [
    "", "https://x/v1/receipts/verify?q=1", "https://x/v?r=A&r=B", "A:B:C:1:Z",
    "K-1-2:T:***1:0:ABC:" + "A" * 103,
    "K-1-2:T:***1:1.5:ABC:" + "A" * 103, "K12:T:***1:100:ABC:" + "A" * 103,
    "K-1-2:t:***1:100:ABC:" + "A" * 103, "K-1-2:T:***1:100:ABC:A1", "K-1-2:T:***1:100:ABC:AAAA",
])
def test_what_is_not_a_receipt_is_refused_with_the_same_reason(text):
    with pytest.raises(ValueError) as kiosk_says:
        kiosk_side.parse(text)
    with pytest.raises(ValueError) as server_says:
        receipts.parse(text)
    assert str(server_says.value) == str(kiosk_says.value)


def test_the_server_imports_nothing_from_the_kiosk():
    code = ("import sys, billing_server.cli, billing_server.receipts, billing_server.seed; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('kiosk', 'drivers') "
            "or (m.startswith('offline_queue.') and m != 'offline_queue.signing')); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
