"""eSSP encryption layer, pure: the Diffie-Hellman numbers of the key exchange and the AES-128
ECB packet wrapper with its counter and inner CRC (SSP protocol manual GA138, "Encryption
Layer" and "Encryption Keys").

The 128-bit AES key is the fixed 64-bit half from config (bytes 0-7) and the 64-bit half the
key exchange produced (bytes 8-15), each a little-endian number.  Neither half is ever put in a
log line, an exception text or a repr.
"""

from __future__ import annotations

import os
import secrets
from typing import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from drivers.bill_validator.essp.protocol import DEFAULT_FIXED_KEY, STEX, crc16  # noqa: F401
from drivers.errors import FrameError

_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)  # exact below 3.3e24


class CryptoError(FrameError):
    """An encrypted packet that must not be believed (wrong key, replay, malformed)."""


class CounterMismatch(CryptoError):
    """Decrypted fine, but eCOUNT is not the one expected: a replayed or skipped packet."""


def parse_fixed_key(text: str | bytes) -> bytes:
    """``"0123456701234567"`` (16 hex digits, the 64-bit number) or 8 raw bytes → the 8 key
    bytes, little-endian."""
    if isinstance(text, bytes) and len(text) == 8:
        return bytes(text)
    s = text.decode("ascii") if isinstance(text, bytes) else str(text)
    s = s.strip().lower().removeprefix("0x")
    if len(s) != 16 or any(c not in "0123456789abcdef" for c in s):
        raise ValueError("the eSSP fixed key must be 16 hex digits")
    return int(s, 16).to_bytes(8, "little")


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for the 64-bit numbers of the key exchange."""
    if n < 2:
        return False
    for p in _MR_BASES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in _MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(bits: int = 63, randbits: Callable[[int], int] = secrets.randbits) -> int:
    while True:
        n = randbits(bits) | (1 << (bits - 1)) | 1
        if is_prime(n):
            return n


def host_numbers(randbits: Callable[[int], int] = secrets.randbits) -> tuple[int, int, int]:
    """(generator, modulus, host secret): two primes, the generator the larger (manual,
    "Encryption Keys": the host picks both and sends them before REQUEST_KEY_EXCHANGE)."""
    a, b = random_prime(63, randbits), random_prime(63, randbits)
    while b == a:
        b = random_prime(63, randbits)
    return max(a, b), min(a, b), randbits(62) | 1


def intermediate(generator: int, secret: int, modulus: int) -> int:
    return pow(generator, secret, modulus)


class Session:
    """One side's AES session after a key exchange.  ``count`` is eCOUNT: it goes up by one
    for every packet this side encrypts and sends and every packet it receives and decrypts
    (manual, "Encryption Layer": eCOUNT), so both ends agree on the next value."""

    def __init__(self, fixed_key: bytes, negotiated: int,
                 padding: Callable[[int], bytes] = os.urandom) -> None:
        if len(fixed_key) != 8:
            raise ValueError("fixed key must be 8 bytes")
        key = bytes(fixed_key) + (negotiated & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._padding = padding
        self.count = 0

    def __repr__(self) -> str:  # never the key
        return f"<eSSP session count={self.count}>"

    def wrap(self, data: bytes) -> bytes:
        """``STEX`` + AES(eLENGTH eCOUNT eDATA ePACKING eCRCL eCRCH), padded to 16 bytes."""
        if not 1 <= len(data) <= 255:
            raise FrameError("encrypted data length outside 1..255")
        plain = bytes([len(data)]) + self.count.to_bytes(4, "little") + data
        pad = (-(len(plain) + 2)) % 16
        plain += self._padding(pad)
        plain += crc16(plain).to_bytes(2, "little")
        enc = self._cipher.encryptor()
        block = enc.update(plain) + enc.finalize()
        self.count = (self.count + 1) & 0xFFFFFFFF
        return bytes([STEX]) + block

    def unwrap(self, payload: bytes) -> bytes:
        """The eDATA of an encrypted packet; raises CryptoError and leaves ``count`` alone
        when the packet must not be believed."""
        if not payload or payload[0] != STEX:
            raise CryptoError("not an encrypted packet")
        block = payload[1:]
        if not block or len(block) % 16:
            raise CryptoError("encrypted block is not a multiple of 16 bytes")
        dec = self._cipher.decryptor()
        plain = dec.update(block) + dec.finalize()
        # The CRC over everything including the CRC is zero only under the right key.
        if crc16(plain[:-2]) != int.from_bytes(plain[-2:], "little"):
            raise CryptoError("encrypted packet fails its CRC: wrong key or corrupted")
        n = plain[0]
        if n == 0 or 5 + n > len(plain) - 2:
            raise CryptoError("encrypted packet length out of range")
        count = int.from_bytes(plain[1:5], "little")
        if count != self.count:
            raise CounterMismatch(f"eCOUNT {count} where {self.count} was expected")
        self.count = (self.count + 1) & 0xFFFFFFFF
        return plain[5:5 + n]
