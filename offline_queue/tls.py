"""What the kiosk trusts when it talks TLS to the billing API: a CA file (or the system store)
and, optionally, the SHA-256 of the server's public key (a pin).

The certificate is always verified (chain, validity dates, host name: RFC 5280, RFC 6125); a
pin is checked in addition, on every new connection right after the handshake and before any
request byte is sent. The pin is over the certificate's SubjectPublicKeyInfo DER, as in HPKP
(RFC 7469 section 2.4), so a renewed certificate for the same key still matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ssl
from dataclasses import dataclass

from urllib3.exceptions import SSLError


class PinMismatch(SSLError):
    """The server's certificate verified, but its public key is not the pinned one."""


def parse_pin(text: str) -> bytes:
    """``text``: 64 hex digits or the base64 of 32 bytes (as ``openssl ... | base64`` prints
    it). ValueError if it is neither."""
    text = text.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.urlsafe_b64decode(text)
        except (binascii.Error, ValueError):
            raw = b""
    if len(raw) != 32:
        raise ValueError("expected the SHA-256 of the server's public key: 64 hex digits or "
                         "44 characters of base64 (32 bytes)")
    return raw


def _tlv(der: bytes, i: int) -> tuple[int, int, int]:
    """One DER element at ``i`` (ITU-T X.690 section 8.1): its tag, content start, end."""
    if i + 2 > len(der):
        raise ValueError("truncated DER")
    tag, length = der[i], der[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        if not 0 < n <= 4 or i + n > len(der):
            raise ValueError("bad DER length")
        length = int.from_bytes(der[i:i + n], "big")
        i += n
    if i + length > len(der):
        raise ValueError("truncated DER")
    return tag, i, i + length


def spki_der(cert_der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a DER certificate, byte for byte as the server sent it.
    RFC 5280 section 4.1: tbsCertificate = [0] version (optional), serialNumber, signature,
    issuer, validity, subject, subjectPublicKeyInfo, ..."""
    _, body, _ = _tlv(cert_der, 0)
    _, i, _ = _tlv(cert_der, body)  # tbsCertificate
    if cert_der[i] == 0xA0:
        i = _tlv(cert_der, i)[2]
    for _ in range(5):  # serialNumber, signature, issuer, validity, subject
        i = _tlv(cert_der, i)[2]
    tag, _, end = _tlv(cert_der, i)
    if tag != 0x30:
        raise ValueError("no SubjectPublicKeyInfo where RFC 5280 puts it")
    return cert_der[i:end]


def spki_sha256(cert_der: bytes) -> bytes:
    return hashlib.sha256(spki_der(cert_der)).digest()


@dataclass(frozen=True)
class TlsTrust:
    """``ca_file``: PEM CA certificates to trust instead of the system store (None: the system
    store). ``pin_sha256``: 32 bytes, or None for no pin."""

    ca_file: str | None = None
    pin_sha256: bytes | None = None

    def context(self) -> ssl.SSLContext:
        """A client context that verifies chain and host name; TLS 1.2 or later (RFC 8996
        deprecates 1.0 and 1.1)."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def check_pin(self, cert_der: bytes | None) -> None:
        if self.pin_sha256 is None:
            return
        if not cert_der:
            raise PinMismatch("pinned key mismatch: the server sent no certificate")
        got = spki_sha256(cert_der)
        if not hmac.compare_digest(got, self.pin_sha256):
            raise PinMismatch("pinned key mismatch: the server's key is "
                              f"sha256/{base64.b64encode(got).decode()}")


def tls_reason(exc: BaseException) -> str | None:
    """A one-line reason if ``exc`` (a requests/urllib3 error) was a TLS refusal, else None:
    "certificate verify failed: certificate has expired", "pinned key mismatch: ..."."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    found: str | None = None
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, PinMismatch):
            return str(e)
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {e.verify_message or e.reason}"
        if isinstance(e, ssl.SSLError) and found is None:
            found = (e.reason or "").lower().replace("_", " ") or str(e)
        todo += [*e.args, getattr(e, "reason", None), e.__cause__, e.__context__]
    return found
