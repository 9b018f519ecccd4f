"""Fixtures for the reference payment gateway: a fresh store on a free loopback port per test,
and a kiosk client enrolled with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from offline_queue import signing
from offline_queue.code_gateway import CodeGatewayClient
from payment_gateway.server import PaymentGateway
from tests.billing_server.conftest import TEST_TOKEN

MERCHANT = "UTILITY-01"
#: a wallet payment code as the residents' phones show it (18 digits)
CODE = "134567890123456789"


@pytest.fixture
def payment_gateway(tmp_path: Path) -> Iterator[PaymentGateway]:
    gateway = PaymentGateway("127.0.0.1", 0, tmp_path / "gateway.db",
                             enrol_token=TEST_TOKEN).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def client_for(gateway: PaymentGateway, tmp_path: Path, kiosk_id: str = "KIOSK-0001",
               read_timeout: float = 5.0) -> CodeGatewayClient:
    key = signing.load_or_create_key(tmp_path / f"{kiosk_id}.pem")
    enrolment = signing.Enrolment(key, kiosk_id, TEST_TOKEN, tmp_path / f"{kiosk_id}.json")
    return CodeGatewayClient(gateway.url, MERCHANT, kiosk_id,
                             signing.KioskAuth(key, kiosk_id, enrolment), 1.0, read_timeout)


@pytest.fixture
def gateway_client(payment_gateway, tmp_path) -> CodeGatewayClient:
    return client_for(payment_gateway, tmp_path)
