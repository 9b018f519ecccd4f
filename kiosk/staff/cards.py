"""Staff cards: a registered card tapped on the attract or out-of-service screen opens the PIN
pad for its user (card + PIN: the card alone opens nothing). Only an HMAC-SHA-256 of the card id
is stored, keyed by a file in the terminal's state directory, so a copy of the database alone
neither lists staff card ids nor lets a guessed id be checked against it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Callable

from sqlite_utils import Database

from kiosk.staff import audit as a
from kiosk.staff.errors import UnknownStaff

KEY_NAME = "staff-cards.key"
KEY_BYTES = 32
STAFF_CARD_ADDED = "staff_card_added"
STAFF_CARD_REMOVED = "staff_card_removed"


def key_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / KEY_NAME


def load_key(path: Path, create: bool) -> bytes | None:
    """The card key; made (0600, in a 0700 folder) on first registration, never replaced."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(KEY_BYTES))
        fh.flush()
        os.fsync(fh.fileno())
    return path.read_bytes()


def normal_uid(card_uid: str) -> str:
    uid = card_uid.strip().upper()
    if not uid or len(uid) > 64 or not uid.isalnum():
        raise ValueError("a card id is letters and digits")
    return uid


class StaffCards:
    def __init__(self, db: Database, key_file: str | os.PathLike[str], audit: a.AuditLog,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.key_file = Path(key_file)
        self.audit = audit
        self.clock = clock or (lambda: datetime.now().astimezone())

    def _mac(self, card_uid: str, create: bool = False) -> str | None:
        key = load_key(self.key_file, create)
        if key is None:
            return None
        return hmac.new(key, normal_uid(card_uid).encode("ascii"), hashlib.sha256).hexdigest()

    def register(self, user_id: str, card_uid: str, actor: str) -> None:
        """Bind a card to a staff id (audited; the id is never written anywhere in clear)."""
        mac = self._mac(card_uid, create=True)
        with a.immediate(self.db):
            if self.db.execute("SELECT 1 FROM staff_users WHERE user_id = ?",
                               (user_id,)).fetchone() is None:
                raise UnknownStaff(f"no staff id {user_id!r}")
            owner = self.db.execute("SELECT user_id FROM staff_cards WHERE card_mac = ?",
                                    (mac,)).fetchone()
            if owner is not None and owner[0] != user_id:
                raise ValueError(f"this card is already registered to {owner[0]}")
            self.db.execute(
                "INSERT OR REPLACE INTO staff_cards (card_mac, user_id, registered_at,"
                " registered_by) VALUES (?, ?, ?, ?)",
                (mac, user_id, self.clock().isoformat(timespec="seconds"), actor))
            self.audit.append(actor, "admin", STAFF_CARD_ADDED, user_id=user_id)

    def remove(self, user_id: str, actor: str) -> int:
        with a.immediate(self.db):
            n = self.db.execute("DELETE FROM staff_cards WHERE user_id = ?", (user_id,)).rowcount
            if n:
                self.audit.append(actor, "admin", STAFF_CARD_REMOVED, user_id=user_id, cards=n)
        return n

    def user_for(self, card_uid: str) -> str | None:
        """The staff id a tapped card belongs to, or None (a resident's card, or no key yet)."""
        try:
            mac = self._mac(card_uid)
        except ValueError:
            return None
        if mac is None:
            return None
        row = self.db.execute("SELECT user_id FROM staff_cards WHERE card_mac = ?",
                              (mac,)).fetchone()
        return row[0] if row else None

    def count(self, user_id: str) -> int:
        return self.db.execute("SELECT count(*) FROM staff_cards WHERE user_id = ?",
                               (user_id,)).fetchone()[0]
