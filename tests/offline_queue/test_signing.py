"""offline_queue/signing.py: the RFC 9421 signature base against the RFC's own Ed25519 example,
key files that stay private, and a signature that covers what the server checks."""

from __future__ import annotations

import base64
import stat

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from offline_queue import signing

# RFC 9421 Appendix B.1.4 (test-key-ed25519) and B.2.6 (the signed request and its signature).
RFC_KEY = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
RFC_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n"@method": POST\n"@path": /foo\n'
    '"@authority": example.com\n"content-type": application/json\n"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
    '"content-length");created=1618884473;keyid="test-key-ed25519"')
RFC_SIG = "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="


def test_signature_base_matches_rfc_9421_b26():
    components = ["date", "@method", "@path", "@authority", "content-type", "content-length"]
    params = signing.signature_params(components, [("created", 1618884473),
                                                   ("keyid", "test-key-ed25519")])
    values = {"date": "Tue, 20 Apr 2021 02:07:55 GMT", "@method": "POST", "@path": "/foo",
              "@authority": "example.com", "content-type": "application/json",
              "content-length": "18"}
    base = signing.signature_base(components, values, params)
    assert base.decode() == RFC_BASE
    key = load_pem_private_key(RFC_KEY, None)
    assert base64.b64encode(key.sign(base)).decode() == RFC_SIG
    # and our parser reads the RFC's Signature-Input back to the same base
    parsed = signing.parse_signature_input(f"sig-b26={params}")
    signing.verify(key.public_key(), parsed, base64.b64decode(RFC_SIG), "POST", "/foo", {
        k: v for k, v in values.items() if not k.startswith("@")} | {"@authority": "example.com"})


def test_content_digest_is_rfc_9530_sha256():
    # RFC 9530 Appendix B.2: {"hello": "world"} + LF
    assert signing.content_digest(b'{"hello": "world"}\n') == \
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"


def test_a_signature_covers_method_path_query_and_digest():
    key = signing.Ed25519PrivateKey.generate()
    h = signing.sign(key, "KIOSK-0001", "POST", "/v1/x?a=1", b"{}", 1700000000)
    assert h["Signature-Input"] == ('sig1=("@method" "@path" "@query" "content-digest")'
                                    ';created=1700000000;keyid="KIOSK-0001";alg="ed25519"')
    parsed = signing.parse_signature_input(h["Signature-Input"])
    sig = signing.parse_signature(h["Signature"], "sig1")
    signing.verify(key.public_key(), parsed, sig, "POST", "/v1/x?a=1", h)
    for method, target in (("GET", "/v1/x?a=1"), ("POST", "/v1/y?a=1"), ("POST", "/v1/x?a=2")):
        try:
            signing.verify(key.public_key(), parsed, sig, method, target, h)
        except signing.SignatureError:
            continue
        raise AssertionError(f"{method} {target} verified")


def test_key_is_made_once_private_and_reused(tmp_path):
    path = tmp_path / "state" / "keys" / signing.KEY_FILE
    key = signing.load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert signing.public_b64(signing.load_or_create_key(path)) == signing.public_b64(key)
