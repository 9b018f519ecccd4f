"""A throwaway PKI for TLS tests (trustme): our CA, a stranger's CA, and server certificates —
good for 127.0.0.1, for another host name, expired — written as PEM files, plus the pins."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from billing_server.server import server_context


def spki_pin(cert_pem: bytes) -> bytes:
    """The pin computed independently of offline_queue/tls.py: cryptography's SPKI encoding."""
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


@dataclass
class Pki:
    root: Path
    ca_file: str  # our CA: what the kiosk's billing.ca_file names
    other_ca_file: str  # a CA that signed none of the server's certificates
    certs: dict[str, str]  # name → PEM with the key and the chain (good, wrong_host, expired)
    pins: dict[str, bytes]  # name → SHA-256 of that certificate's SubjectPublicKeyInfo

    def context(self, name: str = "good"):
        return server_context(self.certs[name], self.certs[name])

    def pin_hex(self, name: str = "good") -> str:
        return self.pins[name].hex()

    def pin_b64(self, name: str = "good") -> str:
        return base64.b64encode(self.pins[name]).decode()


def make_pki(root: Path) -> Pki:
    root.mkdir(parents=True, exist_ok=True)
    ca, stranger = trustme.CA(), trustme.CA()
    now = datetime.now(timezone.utc)
    leaves = {
        "good": ca.issue_cert("127.0.0.1", "localhost"),
        "wrong_host": ca.issue_cert("billing.example.net"),
        "expired": ca.issue_cert("127.0.0.1", "localhost", not_before=now - timedelta(days=30),
                                 not_after=now - timedelta(days=1)),
        "other_key": ca.issue_cert("127.0.0.1", "localhost"),  # valid, but another key
    }
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    stranger.cert_pem.write_to_path(str(root / "other-ca.pem"))
    certs, pins = {}, {}
    for name, leaf in leaves.items():
        path = root / f"{name}.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(path))
        certs[name] = str(path)
        pins[name] = spki_pin(leaf.cert_chain_pems[0].bytes())
    return Pki(root, str(root / "ca.pem"), str(root / "other-ca.pem"), certs, pins)
