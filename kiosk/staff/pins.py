"""PIN hashing with ``hashlib.scrypt`` (docs/promises.md): explicit cost and ``maxmem``, a
per-user random salt, and the parameters stored with the hash so a later change of the default
cost still verifies old hashes. Constant-time comparison.

The PIN policy (docs/security.md, PINs): whoever gets the hash file tries every PIN offline, so
the space must be worth the scrypt cost: at least 6 digits, and none of the few PINs people
pick first (one digit repeated, a run up or down, a short pattern repeated, the staff id's
own digits)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from kiosk.staff.errors import PinRejected

MIN_PIN, MAX_PIN = 6, 12
#: the cheapest scrypt cost ``[staff] scrypt_n`` may set (docs/security.md, PINs)
MIN_N = 2**15
SALT_BYTES = 16
KEY_BYTES = 32
MAX_N = 2**20  # stored hashes above this cost are refused, not attempted


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost. The default is the production cost: n=2**17, r=8, p=1 needs 128 MiB
    (128·r·n·p bytes), and scrypt refuses to run unless ``maxmem`` is above that plus a little
    (about 129 MiB), so maxmem is set explicitly to 256 MiB. Tests pass a cheaper n."""

    n: int = 2**17
    r: int = 8
    p: int = 1
    maxmem: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError("scrypt n must be a power of two")
        if self.r < 1 or self.p < 1:
            raise ValueError("scrypt r and p must be at least 1")
        if self.maxmem <= 128 * self.r * self.n * self.p:
            raise ValueError("scrypt maxmem must exceed 128*r*n*p bytes")


PRODUCTION = ScryptParams()


def scrypt_params(n: int) -> ScryptParams:
    """The production r and p at cost ``n`` (``[staff] scrypt_n``), with room in ``maxmem``."""
    return ScryptParams(n=n, maxmem=max(PRODUCTION.maxmem, 2 * 128 * PRODUCTION.r * n))


def check_new_pin(pin: str, user_id: str = "") -> str:
    """A PIN staff may choose, or PinRejected saying why in one line."""
    if not pin.isascii() or not pin.isdigit():
        raise PinRejected("a PIN is digits only")
    if len(pin) < MIN_PIN:
        raise PinRejected(f"a PIN has at least {MIN_PIN} digits (this one has {len(pin)})")
    if len(pin) > MAX_PIN:
        raise PinRejected(f"a PIN has at most {MAX_PIN} digits")
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:])}
    if steps == {0}:
        raise PinRejected("a PIN may not be one digit repeated")
    if steps in ({1}, {9}):
        raise PinRejected("a PIN may not be a run of consecutive digits (like 123456 or 654321)")
    if any(len(pin) % k == 0 and pin == pin[:k] * (len(pin) // k) for k in (2, 3, 4)):
        raise PinRejected("a PIN may not be a short pattern repeated (like 121212)")
    own = "".join(c for c in user_id if c.isascii() and c.isdigit())
    if len(own) >= 3 and (own in pin or pin in own):
        raise PinRejected("a PIN may not contain the digits of its staff id")
    return pin


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_pin(pin: str, params: ScryptParams = PRODUCTION, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$key`` (base64 parts)."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    key = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=params.n, r=params.r, p=params.p,
                         maxmem=params.maxmem, dklen=KEY_BYTES)
    return f"scrypt${params.n}${params.r}${params.p}${_b64(salt)}${_b64(key)}"


def verify_pin(pin: str, stored: str) -> bool:
    """True when ``pin`` matches ``stored``; False for a mismatch or a malformed stored hash."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        n_, r_, p_ = int(n), int(r), int(p)
        if n_ > MAX_N or r_ > 32 or p_ > 16:
            return False  # a doctored row must not make us allocate gigabytes
        params = ScryptParams(n_, r_, p_, 2 * 128 * r_ * n_ * p_ + 1024 * 1024)
        want = base64.b64decode(key, validate=True)
        got = hashlib.scrypt(pin.encode("utf-8"), salt=base64.b64decode(salt, validate=True),
                             n=params.n, r=params.r, p=params.p, maxmem=params.maxmem,
                             dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def dummy_verify(params: ScryptParams = PRODUCTION) -> None:
    """Spend the same time as a real check, so an unknown staff id does not answer faster."""
    hashlib.scrypt(b"0000", salt=b"\x00" * SALT_BYTES, n=params.n, r=params.r, p=params.p,
                   maxmem=params.maxmem, dklen=KEY_BYTES)
