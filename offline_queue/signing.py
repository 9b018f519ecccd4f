"""The kiosk's identity: its Ed25519 key, HTTP Message Signatures on every request, enrolment.

Every request the terminal sends is signed (RFC 9421) with ``content-digest`` (RFC 9530,
sha-256) over its body: covered components ``@method``, ``@path``, ``@query`` (when the URL has
one) and ``content-digest`` (when there is a body), with ``created``, ``keyid`` (the kiosk id)
and ``alg="ed25519"``. ``KioskAuth`` is a ``requests`` auth hook, so the sync worker, lookups,
heartbeats and staff probes all sign through the same code; ``created`` is the time of sending
(a queued payment's body keeps its own ``created_at``).

The signature base is built here rather than with the ``http-message-signatures`` package: the
reference server verifies on a stdlib ``http.server`` request (method, path, header mapping,
raw bytes), not a ``requests`` object, and one small implementation on both sides keeps them
byte-for-byte the same. It covers exactly what this API uses (RFC 9421 sections 2.2.1, 2.2.6,
2.2.7, 2.3 and 2.5); tests pin it to the Ed25519 example of RFC 9421 Appendix B.2.6.

The key is generated on first start into a 0600 file in a 0700 directory, outside the database
(a copied journal does not carry the kiosk's identity with it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)

LABEL = "sig1"
ALG = "ed25519"
KEY_FILE = "kiosk-ed25519.pem"
ENROLLED_FILE = "enrolled.json"


class SignatureError(ValueError):
    """A Signature-Input / Signature / Content-Digest that cannot be read or does not verify."""


class EnrolmentFailed(requests.ConnectionError):
    """The kiosk could not enrol (server down, token refused): like no connection for callers,
    so a queued payment stays queued."""


# ---------------------------------------------------------------- keys
def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as the enrol endpoint takes it: base64 of the 32 raw bytes."""
    return base64.b64encode(public_raw(key)).decode("ascii")


def public_from_b64(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError("public key is not base64") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def private_dir(path: Path) -> Path:
    """``path`` as a 0700 directory (created, or tightened if it was wider); missing parents
    are made 0700 too whatever the umask (docs/security.md, Files). The reference server
    shares this module alone, so it does not use offline_queue.private."""
    for folder in reversed([p for p in (path, *path.parents) if not p.exists()]):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes, *, replace: bool = True) -> bool:
    """Write ``data`` to a 0600 file atomically. ``replace=False``: only if ``path`` does not
    exist yet (False when another process got there first)."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mkstemp files are 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # atomic and refuses to overwrite: two first starts, one key
        except FileExistsError:
            return False
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """The kiosk's private key at ``path``, generated on first use."""
    path = Path(path)
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        if write_private(path, pem, replace=False):
            log.warning("new kiosk key %s (public %s)", path, public_b64(key))
            return key
    private_dir(path.parent)
    if path.stat().st_mode & 0o077:
        log.warning("kiosk key %s was readable by others: now 0600", path)
        os.chmod(path, 0o600)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


# ---------------------------------------------------------------- RFC 9530 / RFC 9421
def content_digest(body: bytes) -> str:
    """RFC 9530 section 2: a Dictionary with the sha-256 of the content as a Byte Sequence."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def digest_matches(header: str, body: bytes) -> bool:
    """Whether a Content-Digest header's sha-256 member is the digest of ``body``."""
    members = dict(_dict_members(header))
    want = members.get("sha-256")
    return want is not None and want == content_digest(body)[len("sha-256="):]


def _dict_members(header: str) -> list[tuple[str, str]]:
    out = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            out.append((name.strip(), value.strip()))
    return out


def signature_params(components: Sequence[str], params: Sequence[tuple[str, str | int]]) -> str:
    """The ``@signature-params`` value (RFC 9421 section 2.3): the inner list and parameters."""
    inner = " ".join(f'"{c}"' for c in components)
    out = f"({inner})"
    for name, value in params:
        out += f";{name}={value}" if isinstance(value, int) else f';{name}="{value}"'
    return out


def signature_base(components: Sequence[str], values: Mapping[str, str], params: str) -> bytes:
    """RFC 9421 section 2.5: one line per covered component, then ``@signature-params``."""
    lines = [f'"{c}": {values[c]}' for c in components]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode("utf-8")


def request_values(method: str, target: str, headers: Mapping[str, str]) -> dict[str, str]:
    """Component values of a request (RFC 9421 sections 2.1 and 2.2): ``target`` is the
    request target as sent (path and query), header names are looked up in lower case."""
    parts = urlsplit(target)
    values = {"@method": method.upper(), "@path": parts.path or "/"}
    if parts.query:
        values["@query"] = "?" + parts.query
    for name, value in headers.items():
        values[name.lower()] = str(value).strip()
    return values


def covered_for(target: str, has_body: bool) -> list[str]:
    """What this API's requests cover (docs/billing-api.yaml, securitySchemes)."""
    out = ["@method", "@path"]
    if urlsplit(target).query:
        out.append("@query")
    if has_body:
        out.append("content-digest")
    return out


def sign(key: Ed25519PrivateKey, keyid: str, method: str, target: str, body: bytes,
         created: int) -> dict[str, str]:
    """The headers that sign one request: Content-Digest (with a body), Signature-Input and
    Signature."""
    headers: dict[str, str] = {}
    if body:
        headers["Content-Digest"] = content_digest(body)
    components = covered_for(target, bool(body))
    params = signature_params(components, [("created", created), ("keyid", keyid), ("alg", ALG)])
    values = request_values(method, target, headers)
    sig = key.sign(signature_base(components, values, params))
    headers["Signature-Input"] = f"{LABEL}={params}"
    headers["Signature"] = f"{LABEL}=:{base64.b64encode(sig).decode('ascii')}:"
    return headers


@dataclass(frozen=True)
class SignatureInput:
    label: str
    components: tuple[str, ...]
    params: dict[str, str | int]
    raw_params: str  # exactly as sent: the signature base uses the serialised form

    @property
    def created(self) -> int | None:
        value = self.params.get("created")
        return value if isinstance(value, int) else None

    @property
    def keyid(self) -> str | None:
        value = self.params.get("keyid")
        return value if isinstance(value, str) else None


_LABEL = r"[a-z*][a-z0-9_.*-]{0,63}"
_INPUT = re.compile(rf'({_LABEL})=(\((?:"[a-z0-9@_.-]+"(?: "[a-z0-9@_.-]+")*)?\)'
                    rf'(?:;[a-z][a-z0-9_.-]*=(?:"[^"\\]*"|-?[0-9]{{1,15}}))*)')
_PARAM = re.compile(r';([a-z][a-z0-9_.-]*)=("[^"\\]*"|-?[0-9]{1,15})')
_SIG = re.compile(rf"({_LABEL})=:([A-Za-z0-9+/]+={{0,2}}):")


def parse_signature_input(header: str) -> SignatureInput:
    """The one signature a request carries (this API sends exactly one)."""
    match = _INPUT.fullmatch(header.strip())
    if match is None:
        raise SignatureError("Signature-Input is not one signature's inner list and parameters")
    label, raw = match.groups()
    inner, _, _ = raw[1:].partition(")")
    components = tuple(c.strip('"') for c in inner.split()) if inner else ()
    params: dict[str, str | int] = {}
    for name, value in _PARAM.findall(raw[len(inner) + 2:]):
        if name in params:
            raise SignatureError(f"signature parameter {name} is given twice")
        params[name] = value.strip('"') if value.startswith('"') else int(value)
    return SignatureInput(label, components, params, raw)


def parse_signature(header: str, label: str) -> bytes:
    match = _SIG.fullmatch(header.strip())
    if match is None or match.group(1) != label:
        raise SignatureError(f"Signature does not hold one byte sequence labelled {label}")
    return base64.b64decode(match.group(2))


def verify(public: Ed25519PublicKey, sig_input: SignatureInput, signature: bytes, method: str,
           target: str, headers: Mapping[str, str]) -> None:
    """Raise SignatureError unless ``signature`` signs this request's base."""
    values = request_values(method, target, headers)
    missing = [c for c in sig_input.components if c not in values]
    if missing:
        raise SignatureError(f"covered component {missing[0]} is not in the request")
    base = signature_base(sig_input.components, values, sig_input.raw_params)
    try:
        public.verify(signature, base)
    except InvalidSignature:
        raise SignatureError("signature does not verify") from None


# ---------------------------------------------------------------- enrolment and the auth hook
class Enrolment:
    """Registers the kiosk's public key with a server once (POST /v1/kiosks/{id}/enrol with the
    one-time token), remembered per server in a small 0600 state file beside the key."""

    def __init__(self, key: Ed25519PrivateKey, kiosk_id: str, token: str | None,
                 state_path: str | Path, timeout_s: float = 8.0, tls: Any = None) -> None:
        """``tls``: the billing API's TlsTrust (offline_queue/tls.py), as for every client."""
        self.key, self.kiosk_id, self.token = key, kiosk_id, token or None
        self.tls = tls
        self.state_path = Path(state_path)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def _state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _entry(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')} {self.kiosk_id}"

    def enrolled(self, base_url: str) -> bool:
        # Once seen enrolled, it stays so for this key: not a file read per request on a drain.
        entry = self._entry(base_url)
        if entry in self._seen:
            return True
        if self._state().get(entry) == public_b64(self.key):
            self._seen.add(entry)
            return True
        return False

    def ensure(self, base_url: str) -> None:
        """Enrol with ``base_url`` unless done before; without a token there is nothing to
        enrol with (the key may have been registered another way: the server decides)."""
        with self._lock:
            if self.token is None or self.enrolled(base_url):
                return
            self._enrol(base_url)

    def _enrol(self, base_url: str) -> None:
        # On a thread of its own: DeadlineSession keeps the request being signed in a
        # thread-local watch, and this one needs a deadline of its own.
        outcome: list[BaseException | None] = []
        worker = threading.Thread(target=lambda: outcome.append(self._post(base_url)),
                                  name="enrol", daemon=True)
        worker.start()
        worker.join()
        if not outcome or outcome[0] is not None:
            raise outcome[0] if outcome else EnrolmentFailed("enrolment did not finish")
        state = self._state()
        state[self._entry(base_url)] = public_b64(self.key)
        write_private(self.state_path, json.dumps(state, indent=1, sort_keys=True).encode())
        log.warning("kiosk %s enrolled with %s", self.kiosk_id, base_url)

    def request_body(self) -> dict[str, Any]:
        """The body of POST /v1/kiosks/{kiosk_id}/enrol (docs/billing-api.yaml: EnrolRequest)."""
        return {"public_key": public_b64(self.key), "token": self.token}

    def _post(self, base_url: str) -> BaseException | None:
        from offline_queue.deadline import DeadlineSession

        url = f"{base_url.rstrip('/')}/v1/kiosks/{self.kiosk_id}/enrol"
        body = self.request_body()
        try:
            with DeadlineSession(self.timeout_s, tls=self.tls) as http:
                resp = http.post(url, json=body, timeout=(min(3.05, self.timeout_s),
                                                          self.timeout_s))
        except requests.RequestException as exc:
            failed = EnrolmentFailed(f"enrolment: {type(exc).__name__}: {exc}")
            failed.__cause__ = exc  # callers read a TLS refusal's reason from the chain
            return failed
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if resp.status_code in (200, 201) and isinstance(answer, dict) \
                and answer.get("kiosk_id") == self.kiosk_id \
                and answer.get("public_key") == body["public_key"]:
            return None
        code = answer.get("error") if isinstance(answer, dict) else None
        log.error("enrolment of %s refused: HTTP %s %s", self.kiosk_id, resp.status_code,
                  code or "")
        return EnrolmentFailed(f"enrolment refused: HTTP {resp.status_code} {code or ''}".strip())


class KioskAuth(requests.auth.AuthBase):
    """``session.auth = KioskAuth(...)``: enrols on first contact, then signs every request."""

    def __init__(self, key: Ed25519PrivateKey, kiosk_id: str, enrolment: Enrolment | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.key, self.kiosk_id = key, kiosk_id
        self.enrolment = enrolment
        self.clock = clock

    def keyid_for(self, r: requests.PreparedRequest) -> str:
        return self.kiosk_id

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(r.url or "")
        if self.enrolment is not None:
            self.enrolment.ensure(f"{parts.scheme}://{parts.netloc}")
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
            r.body = body
            r.headers["Content-Length"] = str(len(body))
        if not isinstance(body, bytes):
            raise ValueError("a signed request needs its body as bytes (no streams)")
        # Signed at the time of sending: a payment queued for days still has a fresh created.
        r.headers.update(sign(self.key, self.keyid_for(r), r.method or "GET", r.path_url, body,
                              int(self.clock())))
        return r


# ---------------------------------------------------------------- the receiving side
class RequestRefused(Exception):
    """A signed request a server must refuse: ``status`` 401 (unsigned, unreadable, not
    verifying, stale) or 403 (a key id nobody enrolled)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def request_signer(method: str, target: str, headers: Mapping[str, str], raw: bytes,
                   key_for: Callable[[str], str | None], now: float, max_skew_s: int) -> str:
    """The key id whose enrolled key signed this request (both reference servers verify with
    this: billing_server/auth.py, payment_gateway/api.py), or RequestRefused."""
    sig_input_h, sig_h = headers.get("Signature-Input"), headers.get("Signature")
    if not sig_input_h or not sig_h:
        raise RequestRefused(401, "unsigned", "this request must carry Signature-Input and Signature")
    try:
        sig_input = parse_signature_input(sig_input_h)
        signature = parse_signature(sig_h, sig_input.label)
    except (SignatureError, ValueError) as exc:
        raise RequestRefused(401, "bad_signature", str(exc)) from None
    needed = covered_for(target, bool(raw))
    missing = [c for c in needed if c not in sig_input.components]
    if missing:
        raise RequestRefused(401, "bad_signature", f"the signature must cover {missing[0]}")
    if sig_input.params.get("alg") != ALG:
        raise RequestRefused(401, "bad_signature", 'the signature must say alg="ed25519"')
    created, keyid = sig_input.created, sig_input.keyid
    if created is None or keyid is None:
        raise RequestRefused(401, "bad_signature", "the signature needs created and keyid")
    if abs(now - created) > max_skew_s:
        raise RequestRefused(401, "stale_signature",
                             f"signature created {int(now - created)} s from the server's clock "
                             f"(allowed: ±{max_skew_s} s)")
    if raw:
        digest = headers.get("Content-Digest")
        if not digest or not digest_matches(digest, raw):
            raise RequestRefused(401, "digest_mismatch", "Content-Digest is not the body's sha-256")
    public = key_for(keyid)
    if public is None:
        raise RequestRefused(403, "unknown_kiosk", "no kiosk enrolled this key id")
    try:
        verify(public_from_b64(public), sig_input, signature, method, target, headers)
    except (SignatureError, ValueError) as exc:
        raise RequestRefused(401, "bad_signature", str(exc)) from None
    return keyid
