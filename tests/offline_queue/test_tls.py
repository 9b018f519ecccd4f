"""TLS to the billing API with a throwaway CA: the reference server serves HTTPS; the sync worker
delivers and lookups answer when the kiosk trusts its CA (``ca_file``) and, if set, the pinned
key; a stranger's CA, a certificate for another host, an expired one and a pin mismatch are
refused — nothing delivered, nothing sent, and staff see why (the diag probe line)."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest
import requests
import trustme

from kiosk.config import ConfigError, config_from_dict
from billing_server.server import BillingServer
from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from kiosk.services.billing_client import BillingClient, Unreachable
from kiosk.staff.billing_queries import BillingProbe
from kiosk.staff.diag import api_entry, text_lines
from offline_queue.cache import ReferenceCache
from offline_queue import signing
from offline_queue.deadline import DeadlineExceeded, DeadlineSession
from offline_queue.tls import TlsTrust, parse_pin, spki_sha256
from tests.billing_server.conftest import TEST_TOKEN
from tests.offline_queue.test_sync import kiosk_journal, queue_payments, server_ledger, worker_for
from tests.tls_pki import make_pki, spki_pin

ACCOUNT = DEMO_ACCOUNTS[0].account_no
CARD = next(uid for uid, acct in DEMO_CARDS.items())
KIOSK = "KIOSK-T1"  # the journal fixture's


def as_kiosk(client, trust: TlsTrust, tmp_path):
    """``client`` signing as KIOSK-T1 (one key per test), enrolled on first contact with each
    server over the same TLS trust (the production path: offline_queue/signing.py)."""
    if str(tmp_path) not in _AUTHS:
        key = signing.Ed25519PrivateKey.generate()
        enrolment = signing.Enrolment(key, KIOSK, TEST_TOKEN, tmp_path / "enrolled.json",
                                      tls=trust)
        _AUTHS[str(tmp_path)] = signing.KioskAuth(key, KIOSK, enrolment)
    client.http.auth = _AUTHS[str(tmp_path)]
    client.http.auth.enrolment.tls = trust  # the key is the kiosk's; the trust is the client's
    return client


_AUTHS: dict[str, signing.KioskAuth] = {}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_server(pki, tmp_path):
    """``tls_server(cert_name)``: the reference server over TLS with that certificate."""
    started = []

    def start(name: str = "good") -> BillingServer:
        srv = BillingServer("127.0.0.1", 0, tmp_path / f"billing-{name}.db",
                            enrol_token=TEST_TOKEN, tls=pki.context(name)).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def test_the_reference_server_speaks_tls_1_2_or_later(pki, tls_server):
    srv = tls_server()
    assert srv.url.startswith("https://127.0.0.1:")
    assert pki.context().minimum_version == ssl.TLSVersion.TLSv1_2
    ctx = ssl.create_default_context(cafile=pki.ca_file)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # Plain HTTP to the TLS port gets no answer that could pass for one.
    with pytest.raises(requests.RequestException):
        requests.get(srv.url.replace("https://", "http://") + "/v1/health", timeout=5)
    assert requests.get(srv.url + "/v1/health", verify=pki.ca_file, timeout=5).ok  # still up


def test_delivers_and_looks_up_over_tls_with_ca_file(pki, tls_server, journal, outbox, db,
                                                     tmp_path):
    srv, trust = tls_server(), TlsTrust(pki.ca_file)
    queue_payments(journal, 3)
    worker = as_kiosk(worker_for(outbox, srv.url, tls=trust), trust, tmp_path)
    result = worker.run_once(ignore_backoff=True)
    assert result.delivered == 3 and result.fault is None
    assert outbox.stats().pending == 0 and server_ledger(srv) == kiosk_journal(journal)
    client = as_kiosk(BillingClient(srv.url, ReferenceCache(db), tls=trust), trust, tmp_path)
    info = client.account(ACCOUNT)
    assert info.account_no == ACCOUNT and not info.from_cache and info.arrears_minor is not None
    assert client.card(CARD) == DEMO_CARDS[CARD]
    health = BillingProbe(srv.url, tls=TlsTrust(pki.ca_file)).health()
    assert health.reachable and health.tls == "verified"


@pytest.mark.parametrize("form", ["hex", "base64"])
def test_the_right_pin_delivers(pki, tls_server, journal, outbox, form, tmp_path):
    srv = tls_server()
    pin = pki.pin_hex() if form == "hex" else pki.pin_b64()
    cfg = config_from_dict({"billing": {"url": srv.url, "ca_file": pki.ca_file,
                                        "pin_sha256": pin}})
    trust = cfg.billing.tls()
    assert trust == TlsTrust(pki.ca_file, pki.pins["good"])
    queue_payments(journal, 2)
    worker = as_kiosk(worker_for(outbox, srv.url, tls=trust), trust, tmp_path)
    assert worker.run_once(ignore_backoff=True).delivered == 2
    health = BillingProbe(srv.url, tls=trust).health()
    assert health.reachable and health.tls == "verified, key pinned"


REFUSALS = {
    # case: (server certificate, what the kiosk trusts, the reason staff must see)
    "wrong_ca": ("good", lambda p: TlsTrust(p.other_ca_file),
                 "TLS: certificate verify failed: unable to get local issuer certificate"),
    "wrong_host": ("wrong_host", lambda p: TlsTrust(p.ca_file),
                   "TLS: certificate verify failed: IP address mismatch"),
    "expired": ("expired", lambda p: TlsTrust(p.ca_file),
                "TLS: certificate verify failed: certificate has expired"),
    "pin_mismatch": ("good", lambda p: TlsTrust(p.ca_file, p.pins["other_key"]),
                     "TLS: pinned key mismatch"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_server_that_cannot_prove_itself_is_refused(pki, tls_server, journal, outbox, db, case,
                                                      tmp_path):
    cert, trust_of, reason = REFUSALS[case]
    srv, trust = tls_server(cert), trust_of(pki)
    queue_payments(journal, 3)
    worker = as_kiosk(worker_for(outbox, srv.url, tls=trust), trust, tmp_path)
    result = worker.run_once(ignore_backoff=True)
    stats = outbox.stats()
    assert result.delivered == 0 and stats.delivered == 0 and stats.pending == 3
    assert srv.ledger.payments() == []  # nothing reached the server's books
    assert result.fault and result.fault.startswith(reason)  # visible, not a quiet retry
    errors = [r[0] for r in db.execute("SELECT last_error FROM outbox")]
    assert all(e.startswith(reason) for e in errors), errors
    # Again: still refused, still pending (never a success on a later try).
    assert worker.run_once(ignore_backoff=True).delivered == 0 and outbox.stats().pending == 3

    client = as_kiosk(BillingClient(srv.url, ReferenceCache(db), tls=trust), trust, tmp_path)
    with pytest.raises(Unreachable, match=reason):
        client.fetch_account(ACCOUNT)
    assert client.account(ACCOUNT).from_cache  # offline, as for no network: payable, no balance

    health = as_kiosk(BillingProbe(srv.url, tls=trust), trust, tmp_path).health()
    assert not health.reachable and health.reason.startswith(reason)
    entry = api_entry(health)
    assert entry["status"] == "fault"
    line = [ln for ln in text_lines({"kiosk_id": "K", "generated_at": "now", "status": "fault",
                                     "entries": [entry], "self_tests": [], "ports": [],
                                     "recent_log": []}) if "billing_api" in ln][0]
    assert reason in line

    # The same queue, the right trust: delivered once, books equal.
    good, right = tls_server("good"), TlsTrust(pki.ca_file)
    worker = as_kiosk(worker_for(outbox, good.url, tls=right), right, tmp_path)
    assert worker.run_once(ignore_backoff=True).delivered == 3
    assert server_ledger(good) == kiosk_journal(journal)


class _RecordingTlsServer:
    """A bare TLS listener: completes the handshake, then records every byte the client sends."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = bytearray()
        self.handshakes = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        raw, _ = self.listener.accept()
        try:
            with self.ctx.wrap_socket(raw, server_side=True) as tls:
                self.handshakes += 1
                tls.settimeout(10)
                while chunk := tls.recv(4096):  # until the client closes
                    self.received += chunk
        except OSError:
            pass
        finally:
            self.done.set()

    def close(self) -> None:
        self.listener.close()


def test_a_pin_mismatch_sends_no_request_byte(pki):
    """The pin is checked between the handshake and the request: the server sees the handshake
    and then nothing at all (no method, no path, no body, no Idempotency-Key)."""
    bad = _RecordingTlsServer(pki.context("good"))
    try:
        session = DeadlineSession(10, tls=TlsTrust(pki.ca_file, pki.pins["other_key"]))
        with pytest.raises(requests.exceptions.SSLError, match="pinned key mismatch"):
            session.post(f"https://127.0.0.1:{bad.port}/v1/payments", data=b'{"amount": 1}',
                         timeout=(5, 5))
        assert bad.done.wait(10)
        assert bad.handshakes == 1 and bytes(bad.received) == b""
    finally:
        bad.close()


def test_verify_cannot_be_switched_off_per_request(pki, tls_server):
    srv = tls_server()
    session = DeadlineSession(5, tls=TlsTrust(pki.other_ca_file))
    with pytest.raises(ValueError, match="TlsTrust"):
        session.get(srv.url + "/v1/health", verify=False)
    with pytest.raises(requests.exceptions.SSLError):  # verify=True changes nothing either
        session.get(srv.url + "/v1/health", verify=True)


def test_the_default_trust_is_the_system_store_not_any_ca(pki, tls_server):
    srv = tls_server()
    with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
        DeadlineSession(5).get(srv.url + "/v1/health")


def test_a_stalled_handshake_ends_at_the_total_deadline():
    """A server that accepts and never answers the ClientHello: the connect timeout (120 s)
    would bound each read of the handshake; the total deadline (0.5 s) ends the whole of it."""
    listener = socket.create_server(("127.0.0.1", 0))
    out: list[BaseException] = []

    def call() -> None:
        try:
            DeadlineSession(0.5, tls=TlsTrust()).get(
                f"https://127.0.0.1:{listener.getsockname()[1]}/v1/health", timeout=(120, 120))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            out.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    try:
        caller.start()
        caller.join(60)  # bounds a hang only: far below the 120 s the socket timeout allows
        assert not caller.is_alive(), "the handshake was not ended by the deadline"
        assert len(out) == 1 and isinstance(out[0], DeadlineExceeded), out
    finally:
        listener.close()


@pytest.mark.parametrize("key_type", [trustme.KeyType.ECDSA, trustme.KeyType.RSA])
def test_the_pin_is_the_sha256_of_the_subject_public_key_info(key_type):
    leaf = trustme.CA(key_type=key_type).issue_cert("127.0.0.1", key_type=key_type)
    pem = leaf.cert_chain_pems[0].bytes()
    assert spki_sha256(ssl.PEM_cert_to_DER_cert(pem.decode())) == spki_pin(pem)


def test_pins_parse_from_hex_or_base64_and_nothing_else(pki):
    raw = pki.pins["good"]
    assert parse_pin(raw.hex()) == parse_pin(raw.hex().upper()) == parse_pin(pki.pin_b64()) == raw
    for bad in ("", "abcd", raw.hex()[:-2], "z" * 64, pki.pin_b64()[:-4], raw.hex() + "00"):
        with pytest.raises(ValueError):
            parse_pin(bad)


def test_config_checks_ca_file_and_pin(pki, tmp_path):
    url = "https://127.0.0.1:8443"
    ok = config_from_dict({"billing": {"url": url, "ca_file": pki.ca_file,
                                       "pin_sha256": pki.pin_hex()}})
    assert ok.billing.tls() == TlsTrust(pki.ca_file, pki.pins["good"])
    assert config_from_dict({"billing": {"url": url}}).billing.tls() == TlsTrust()
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    cases = [
        ({"ca_file": str(tmp_path / "missing.pem")}, "billing.ca_file: no such file"),
        ({"ca_file": str(not_pem)}, "billing.ca_file: not a readable PEM CA file"),
        ({"pin_sha256": "abcd"}, "billing.pin_sha256: expected the SHA-256"),
        ({"pin_sha256": 12}, "billing.pin_sha256: expected a non-empty string"),
    ]
    for extra, message in cases:
        with pytest.raises(ConfigError, match=message):
            config_from_dict({"billing": {"url": url, **extra}})
    for key, value in (("ca_file", pki.ca_file), ("pin_sha256", pki.pin_hex())):
        with pytest.raises(ConfigError, match=f"billing.{key}: set, but billing.url is not https"):
            config_from_dict({"billing": {"url": "http://127.0.0.1:8080", key: value}})
