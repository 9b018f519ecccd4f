"""The audit chain's key (docs/security.md, The audit key): entries are HMAC-SHA-256 under a key
kept outside the database, in ``<kiosk.state_dir>/keys/audit.key`` (0600 in a 0700 folder),
so whoever copies or edits the database cannot re-seal a rewritten chain.

The file is a list of *epochs*, each covering the entries from its ``from_seq`` on:
``hmac-sha256`` (a key), ``sha256`` (entries written unkeyed before the upgrade, the
migration marks how many) and ``lost`` (entries sealed with a key this terminal no longer has:
they can never verify). Rotating adds an epoch; old keys stay so old entries still verify."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.staff.errors import AuditKeyError
from offline_queue.private import exposure
from offline_queue.signing import write_private

KEY_FILE = "audit.key"
HMAC, SHA256, LOST = "hmac-sha256", "sha256", "lost"
VERSION = 1


def key_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / "keys" / KEY_FILE


def configured(config: Any) -> "AuditKeys":
    """The terminal's audit keys from its config (``kiosk.state_dir``)."""
    return AuditKeys(key_path(config.kiosk.state_dir),
                     allow_shared=getattr(config.kiosk, "allow_shared_files", False))


@dataclass(frozen=True)
class Epoch:
    from_seq: int
    scheme: str
    key: bytes = b""


@dataclass(frozen=True)
class Keyring:
    epochs: tuple[Epoch, ...]

    def epoch(self, seq: int) -> Epoch:
        found = self.epochs[0]
        for epoch in self.epochs:
            if epoch.from_seq <= seq:
                found = epoch
        return found

    def seal(self, seq: int, text: bytes) -> str | None:
        """The MAC an entry ``seq`` must carry, or None when it cannot be checked (lost key)."""
        epoch = self.epoch(seq)
        if epoch.scheme == HMAC:
            return hmac.new(epoch.key, text, hashlib.sha256).hexdigest()
        if epoch.scheme == SHA256:
            return hashlib.sha256(text).hexdigest()
        return None

    def writing(self) -> Epoch:
        return self.epochs[-1]

    def as_json(self) -> bytes:
        return json.dumps({"version": VERSION, "epochs": [
            {"from_seq": e.from_seq, "scheme": e.scheme} | ({"key": e.key.hex()} if e.key else {})
            for e in self.epochs]}, indent=1).encode("utf-8")


def _parse(raw: bytes, path: Path) -> Keyring:
    try:
        data: Any = json.loads(raw)
        epochs = tuple(Epoch(int(e["from_seq"]), str(e["scheme"]), bytes.fromhex(e.get("key", "")))
                       for e in data["epochs"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditKeyError(f"audit key file {path} is unreadable: {exc}") from None
    if data.get("version") != VERSION or not epochs or epochs[-1].scheme != HMAC \
            or any(e.scheme == HMAC and len(e.key) < 32 for e in epochs) \
            or any(b.from_seq <= a.from_seq for a, b in zip(epochs, epochs[1:])):
        raise AuditKeyError(f"audit key file {path} is not a version {VERSION} audit keyring")
    return Keyring(epochs)


class AuditKeys:
    """Where an AuditLog's keys come from. Read again for every append and verify (the file is
    tiny), so a rotation by another process is seen at once."""

    def __init__(self, path: str | os.PathLike[str] | None, *, fixed: Keyring | None = None,
                 allow_shared: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.fixed = fixed
        self.allow_shared = allow_shared

    @classmethod
    def of_key(cls, key: bytes) -> "AuditKeys":
        """A keyring held in memory only (tests, tools)."""
        return cls(None, fixed=Keyring((Epoch(1, HMAC, key),)))

    def exists(self) -> bool:
        return self.fixed is not None or (self.path is not None and self.path.exists())

    def load(self) -> Keyring:
        if self.fixed is not None:
            return self.fixed
        assert self.path is not None
        if not self.allow_shared and (problem := exposure(self.path, "audit key file")):
            raise AuditKeyError(problem)
        try:
            return _parse(self.path.read_bytes(), self.path)
        except FileNotFoundError:
            raise AuditKeyError(f"no audit key at {self.path}: restore it from the backup "
                                "(docs/security.md, The audit key)") from None

    def create(self, last_seq: int, legacy_until: int) -> Keyring:
        """The first key of this terminal. Entries already in the chain are ``sha256`` up to
        ``legacy_until`` (written before keyed audit existed) and ``lost`` beyond it (a key
        existed and is gone): they are named, never silently re-sealed."""
        if self.fixed is not None:
            return self.fixed
        assert self.path is not None
        epochs = []
        if legacy_until > 0:
            epochs.append(Epoch(1, SHA256))
        if last_seq > legacy_until:
            epochs.append(Epoch(legacy_until + 1, LOST))
        epochs.append(Epoch(last_seq + 1, HMAC, secrets.token_bytes(32)))
        ring = Keyring(tuple(epochs))
        if not write_private(self.path, ring.as_json(), replace=False):
            return self.load()  # another process made it first: use theirs
        return ring

    def rotate(self, next_seq: int) -> Keyring:
        """A new key for entries from ``next_seq`` on; call inside the chain's write lock."""
        ring = self.load()
        if ring.writing().from_seq >= next_seq:
            raise AuditKeyError("the current audit key has sealed no entry yet: nothing to rotate")
        ring = Keyring(ring.epochs + (Epoch(next_seq, HMAC, secrets.token_bytes(32)),))
        assert self.path is not None
        write_private(self.path, ring.as_json())
        return ring
