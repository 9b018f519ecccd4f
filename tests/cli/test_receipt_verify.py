"""Signed receipts: `kiosk receipt verify` accepts a real receipt's QR text and rejects a
tampered one; the QR stays within version 10 at ECC M; the server's verify page."""

from __future__ import annotations

import json
import sqlite3

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kiosk.flow.receipt import ReceiptData, qr_payload
from offline_queue.journal import PaymentRecord
from kiosk.services import receipt_signing as rs
from tests.billing_server.conftest import TEST_TOKEN


def test_receipt_of_a_real_payment_verifies_offline_and_at_the_server(run_kiosk, tmp_path,
                                                                       billing_server):
    state = tmp_path / "dev"
    run_kiosk("simulate", "--sessions", "2", "--json", "--api", billing_server.url,
              "--db", str(tmp_path / "k.db"), "--state-dir", str(state), "--poll-ms", "20",
              "--kiosk-id", "KIOSK-RV", "--enrol-token", TEST_TOKEN, check=True)
    row = sqlite3.connect(tmp_path / "k.db").execute(
        "SELECT receipt_no, txn_id, account_no, amount_minor, created_at FROM payments").fetchone()
    key = load_pem_private_key((state / "keys" / "kiosk-ed25519.pem").read_bytes(), None)
    data = ReceiptData(PaymentRecord("KIOSK-RV", row[1], row[1], row[2], row[3], row[0], row[4],
                                     False, (), ()), "95598")
    text = rs.ReceiptSigner(key, billing_server.url + "/v1/receipts/verify")(data)
    assert qr_payload(ReceiptData(**{**data.__dict__, "signed_qr": text})) == text
    args = ("--kiosk-id", "KIOSK-RV", "--state-dir", str(state))
    ok = run_kiosk("receipt", "verify", text, *args)
    assert ok.returncode == 0 and ok.stdout.startswith("valid"), ok.stdout + ok.stderr
    amount = str(row[3])
    tampered = text.replace(f":{amount}:", f":{int(amount) + 100}:")
    assert tampered != text
    bad = run_kiosk("receipt", "verify", tampered, *args)
    assert bad.returncode == 1 and bad.stdout.startswith("INVALID")
    junk = run_kiosk("receipt", "verify", "hello", *args)
    assert junk.returncode == 2 and len(junk.stderr.strip().splitlines()) == 1
    page = requests.get(billing_server.url + "/v1/receipts/verify", params={
        "r": text.split("?r=", 1)[1]}, timeout=5).json()
    assert page["valid_signature"] is True and page["recorded"] is True
    page = requests.get(billing_server.url + "/v1/receipts/verify", params={
        "r": tampered.split("?r=", 1)[1]}, timeout=5).json()
    assert page["valid_signature"] is False and page["recorded"] is False


def test_largest_receipt_fits_qr_version_10_at_ecc_m():
    kiosk = "K" * 32  # the longest kiosk id kiosk/config.py allows
    url = "https://" + "b" * 33 + "/v1/receipts/verify"  # the longest verify URL it allows
    assert len(url) == 60
    txn = "20261201093000-abcdef123456.9"
    data = ReceiptData(PaymentRecord(kiosk, txn, txn, "3101001234", 10_000_000,
                                     f"{kiosk}-20261201-99999", "2026-12-01T09:30:00+08:00",
                                     False, (), ()), "95598")
    versions = {rs.qr_version(rs.ReceiptSigner(Ed25519PrivateKey.generate(), url)(data))
                for _ in range(10)}
    assert max(versions) <= rs.MAX_QR_VERSION, versions
    assert json.dumps(sorted(versions))  # the figure is integer QR versions
