"""Retention: delivered, reported payments leave the live database for a monthly archive.

``var/archive/YYYY-MM.db`` (beside the live database) holds a month's moved rows: the payments,
their journal rows, their delivered outbox rows and what the daily report recorded about them,
under the same append-only rules as the live journal (triggers refuse UPDATE and DELETE).

A move is four steps, each safe to be cut by a power cut (tests/offline_queue/test_archive.py
crashes at every one):

1. ``archive_moves`` says COPYING for the month (live database);
2. the rows are written to the archive file and committed there (``synchronous=FULL``);
3. the archive file is opened afresh and read back; only when its rows hash the same as the live
   ones is the month VERIFIED and the journal rows permitted to leave (``archive_permit``);
4. one live transaction deletes the rows, drops the permits and counts them as archived.

Until step 4 commits a payment is in the live database (and perhaps also copied); after it, only
in the archive. Every reader asks the live database first and the archive only for what the live
one does not hold, so each payment is counted exactly once at every point. A move cut short is
finished by the next one (``Archiver.run`` starts with the months left COPYING or VERIFIED).

Only payments whose outbox row is DELIVERED and that a daily report has listed as delivered
(at once or as a late arrival) move; nothing undelivered ever does (docs/promises.md).

Each fact is stored once in the archive. A delivered payment's outbox body repeats the facts of
its payment row (account, amount, tallies, time): given ``rebuild`` (the terminal's encoder over
a payments row, offline_queue/journal.py ``payment_body_of``), the archive keeps, instead of a
body the rebuild reproduces byte for byte, the body's SHA-256. Step 3 rebuilds each such body
from the archived payment row itself and checks the digest, so no body leaves the live database
until the archive alone is shown to give back the very bytes sent. A body it does not
reproduce (a re-addressed payment, one paid by code, one written under another kiosk id or by
an older encoder) is kept whole.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from offline_queue.crash import crash_point

#: the tables a move copies, with the key a row is found by
TABLES = (("payments", "txn_id"), ("outbox", "id"), ("journal", "id"),
          ("reported_payments", "txn_id"))

#: the archive's outbox column beside the live ones: the digest of a body stored once
BODY_DIGEST = "body_sha256"

Rebuild = Callable[[Mapping[str, Any]], bytes]


def live_path(db: Any) -> Path | None:
    """The file of the connection's main database (None: in memory)."""
    for _seq, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            return Path(path)
    return None


def archive_dir_for(db: Any) -> Path | None:
    path = live_path(db)
    return None if path is None else path.parent / "archive"


def _open_archive(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    # One file per month, read far more than written: a rollback journal, not a WAL beside it.
    conn.execute("PRAGMA journal_mode=DELETE")
    # The copy must be on the card before the live rows go (SQLite documentation,
    # "PRAGMA synchronous": WAL with FULL syncs at every commit).
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _ensure_tables(live: Any, arch: sqlite3.Connection) -> None:
    for table, key in TABLES:
        cols = [r[1] for r in live.execute(f"PRAGMA table_info({table})").fetchall()]
        have = [r[1] for r in arch.execute(f"PRAGMA table_info({table})").fetchall()]
        if not have:
            # An integer key is the rowid itself and a text key the table's own b-tree (SQLite
            # documentation, "ROWIDs and the INTEGER PRIMARY KEY", "The WITHOUT ROWID
            # Optimization"): no second copy of every key in an index beside the rows.
            if key == "id":
                spec = ", ".join("id INTEGER PRIMARY KEY" if c == key else c for c in cols)
                if table == "outbox":
                    spec += f", {BODY_DIGEST} BLOB"
                arch.execute(f"CREATE TABLE {table} ({spec})")
            else:
                arch.execute(f"CREATE TABLE {table} ({', '.join(cols)}, PRIMARY KEY ({key}))"
                             " WITHOUT ROWID")
            for op in ("UPDATE", "DELETE"):
                arch.execute(
                    f"CREATE TRIGGER {table}_append_only_{op[0].lower()} BEFORE {op} ON {table}"
                    f" BEGIN SELECT RAISE(ABORT, '{table} archive is append-only'); END")
        else:
            for col in cols + ([BODY_DIGEST] if table == "outbox" else []):
                if col not in have:  # a later schema added a column: older rows hold NULL
                    arch.execute(f"ALTER TABLE {table} ADD COLUMN {col}")
    arch.execute("CREATE INDEX IF NOT EXISTS payments_date ON payments(local_date)")
    arch.execute("CREATE INDEX IF NOT EXISTS payments_receipt ON payments(receipt_no)")
    arch.execute("CREATE INDEX IF NOT EXISTS outbox_key ON outbox(idem_key)")


def _rows(conn: Any, table: str, key: str, keys: Sequence[Any]) -> list[tuple[list[str], tuple]]:
    out = []
    for i in range(0, len(keys), 500):
        chunk = list(keys[i:i + 500])
        cur = conn.execute(f"SELECT * FROM {table} WHERE {key} IN ({','.join('?' * len(chunk))})"
                           f" ORDER BY {key}", chunk)
        cols = [d[0] for d in cur.description]
        out.extend((cols, tuple(r)) for r in cur.fetchall())
    return out


def _digest(conn: Any, selection: dict[str, list[Any]], rebuild: Rebuild | None = None) -> str:
    """The rows' digest, with every body stored once rebuilt from the payment row beside it in
    the same database (a body that does not rebuild to its digest spoils the digest)."""
    h = hashlib.sha256()
    for table, key in TABLES:
        for cols, row in sorted(_rows(conn, table, key, selection[table]),
                                key=lambda cr: repr(cr[1][cr[0].index(key)])):
            if table == "outbox":
                cols, row = _sent_body(conn, cols, row, rebuild)
            h.update(repr(sorted(zip(cols, row))).encode())
    return h.hexdigest()


def _sent_body(conn: Any, cols: list[str], row: tuple,
               rebuild: Rebuild | None) -> tuple[list[str], tuple]:
    """An outbox row as it was sent: the stored-once body put back and the digest column gone."""
    r = dict(zip(cols, row))
    digest = r.pop(BODY_DIGEST, None)
    if digest is not None and not r["body"]:
        cur = conn.execute("SELECT * FROM payments WHERE txn_id = ?", (r["idem_key"],))
        found = cur.fetchone()
        body = (rebuild(dict(zip([d[0] for d in cur.description], found)))
                if found is not None and rebuild is not None else b"")
        r["body"] = body if hashlib.sha256(body).digest() == bytes(digest) else b"<not rebuilt>"
    return list(r), tuple(r.values())


def _stored_once(cols: list[str], row: tuple, payments: Mapping[str, Mapping[str, Any]],
                 rebuild: Rebuild | None) -> tuple[list[str], tuple]:
    """An outbox row as the archive keeps it: a delivered payment's body that ``rebuild``
    reproduces from its payment row is replaced by its digest."""
    r = dict(zip(cols, row))
    pay = payments.get(r["idem_key"])
    if rebuild is not None and r["kind"] == "payment" and pay is not None and r["body"]:
        body = bytes(r["body"])
        if rebuild(pay) == body:
            r["body"], r[BODY_DIGEST] = b"", hashlib.sha256(body).digest()
    return list(r), tuple(r.values())


@dataclass(frozen=True)
class MoveResult:
    month: str
    payments: int
    journal_rows: int
    path: str


def _month_bounds(month: str) -> tuple[str, str]:
    first = date.fromisoformat(f"{month}-01")
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first.isoformat(), nxt.isoformat()


class Archiver:
    """Moves a month at a time; ``keep_days``: payments younger than this stay live."""

    def __init__(self, db: Any, directory: Path | None = None, keep_days: int = 90,
                 today: Callable[[], date] = lambda: datetime.now().astimezone().date(),
                 rebuild: Rebuild | None = None) -> None:
        """``rebuild``: a payment's body from its payments row, so each body the archive can
        give back is stored once (None: every body kept whole)."""
        if keep_days < 0:
            raise ValueError("keep_days must be 0 or more")
        self.db = getattr(db, "conn", db)  # the sqlite3 connection under a sqlite_utils one
        self.directory = directory or archive_dir_for(db)
        if self.directory is None:
            raise ValueError("an in-memory database has no archive directory")
        self.keep_days = keep_days
        self.today = today
        self.rebuild = rebuild

    def path(self, month: str) -> Path:
        return self.directory / f"{month}.db"

    # ---------------------------------------------------------------- choosing
    def _selection(self, month: str, cutoff: str) -> dict[str, list[Any]]:
        lo, hi = _month_bounds(month)
        hi = min(hi, cutoff)
        # Journal rows a batch not yet counted will read stay live (kiosk/staff/collection.py
        # computes the expected cash from the journal range at counting time).
        guard = self.db.execute(
            "SELECT coalesce(min(journal_from), 1 << 62) FROM collection_batches"
            " WHERE state != 'COUNTED'").fetchone()[0]
        pays = self.db.execute(
            "SELECT p.txn_id, p.session_id, o.id FROM payments p"
            " JOIN outbox o ON o.idem_key = p.txn_id AND o.state = 'DELIVERED'"
            " JOIN reported_payments r ON r.txn_id = p.txn_id"
            "  AND (r.delivered = 1 OR r.late_seq IS NOT NULL)"
            " WHERE p.local_date >= ? AND p.local_date < ?", (lo, hi)).fetchall()
        txns, outbox, journal = [], [], []
        for txn_id, session_id, outbox_id in pays:
            ids = [r[0] for r in self.db.execute(
                "SELECT id FROM journal WHERE session_id IN (?, ?) AND session_id NOT IN"
                " (SELECT session_id FROM journal_open)",
                (session_id, session_id.split(".")[0])).fetchall()]
            if ids and max(ids) >= guard:
                continue
            txns.append(txn_id)
            outbox.append(outbox_id)
            journal.extend(ids)
        return {"payments": txns, "outbox": outbox, "journal": sorted(set(journal)),
                "reported_payments": txns}

    def due_months(self) -> list[str]:
        cutoff = (self.today() - timedelta(days=self.keep_days)).isoformat()
        rows = self.db.execute(
            "SELECT DISTINCT substr(local_date, 1, 7) FROM payments WHERE local_date < ?",
            (cutoff,)).fetchall()
        unfinished = [r[0] for r in self.db.execute(
            "SELECT month FROM archive_moves WHERE state != 'REMOVED'").fetchall()]
        return sorted(set(unfinished) | {r[0] for r in rows})

    # ---------------------------------------------------------------- moving
    def run(self) -> list[MoveResult]:
        """Finish any move cut short, then move every month older than ``keep_days``."""
        return [r for r in (self.move(m) for m in self.due_months()) if r.payments]

    def move(self, month: str) -> MoveResult:
        cutoff = (self.today() - timedelta(days=self.keep_days)).isoformat()
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            selection = self._selection(month, cutoff)
            self.db.execute(
                "INSERT INTO archive_moves (month, state, started_at) VALUES (?, 'COPYING', ?)"
                " ON CONFLICT(month) DO UPDATE SET state = 'COPYING', started_at = excluded.started_at,"
                " digest = NULL", (month, now))
            self.db.execute("DELETE FROM archive_permit WHERE month = ?", (month,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        crash_point("archive_marked")
        path = self.path(month)
        if selection["payments"]:
            self._copy(path, selection)
        crash_point("archive_copied")
        digest = self._verify(path, selection)
        with_permits = [(i, month) for i in selection["journal"]]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("UPDATE archive_moves SET state = 'VERIFIED', digest = ? WHERE month = ?",
                            (digest, month))
            self.db.executemany("INSERT OR REPLACE INTO archive_permit (journal_id, month)"
                                " VALUES (?, ?)", with_permits)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        crash_point("archive_verified")
        self._remove(month, selection, now)
        crash_point("archive_removed")
        return MoveResult(month, len(selection["payments"]), len(selection["journal"]), str(path))

    def _copy(self, path: Path, selection: dict[str, list[Any]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arch = _open_archive(path)
        try:
            arch.execute("BEGIN IMMEDIATE")
            _ensure_tables(self.db, arch)
            payments = {dict(zip(cols, row))["txn_id"]: dict(zip(cols, row)) for cols, row
                        in _rows(self.db, "payments", "txn_id", selection["payments"])}
            for table, key in TABLES:
                for cols, row in _rows(self.db, table, key, selection[table]):
                    if table == "outbox":
                        cols, row = _stored_once(cols, row, payments, self.rebuild)
                    # OR IGNORE: a move cut short and run again finds its rows already there
                    arch.execute(f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES"
                                 f" ({', '.join('?' * len(cols))})", row)
            arch.execute("COMMIT")
        finally:
            arch.close()
        _fsync_dir(path.parent)

    def _verify(self, path: Path, selection: dict[str, list[Any]]) -> str:
        """Read the archive back through a connection of its own; the digests must agree."""
        expected = _digest(self.db, selection)
        if not selection["payments"]:
            return expected
        arch = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            got = _digest(arch, selection, self.rebuild)
        finally:
            arch.close()
        if got != expected:
            raise ArchiveMismatch(f"{path.name} does not hold the rows it was given; nothing removed")
        return expected

    def _remove(self, month: str, selection: dict[str, list[Any]], now: str) -> None:
        txns = selection["payments"]
        notes = 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            ids = selection["journal"]
            for i in range(0, len(ids), 500):  # the high-water record counts note credits
                chunk = ids[i:i + 500]
                notes += self.db.execute(
                    "SELECT count(*) FROM journal WHERE kind = 'credit' AND tender = 'note'"
                    f" AND id IN ({','.join('?' * len(chunk))})", chunk).fetchone()[0]
            for table, key in TABLES:
                keys = selection[table]
                for i in range(0, len(keys), 500):
                    chunk = keys[i:i + 500]
                    self.db.execute(f"DELETE FROM {table} WHERE {key} IN"
                                    f" ({','.join('?' * len(chunk))})", chunk)
            self.db.execute("DELETE FROM archive_permit WHERE month = ?", (month,))
            self.db.execute(
                "UPDATE archive_moves SET state = 'REMOVED', finished_at = ?,"
                " payments = payments + ?, journal_rows = journal_rows + ?,"
                " note_credits = note_credits + ? WHERE month = ?",
                (now, len(txns), len(selection["journal"]), notes, month))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise


class ArchiveMismatch(Exception):
    """The archive read back differs from the live rows: nothing was removed."""


def _fsync_dir(path: Path) -> None:
    """A new file's directory entry is durable only once its directory is synced (fsync(2))."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -------------------------------------------------------------------- reading the archive
def _archives(db: Any, months: Iterable[str] | None = None) -> list[Path]:
    directory = archive_dir_for(db)
    if directory is None or not directory.is_dir():
        return []
    if months is not None:
        return [p for p in (directory / f"{m}.db" for m in months) if p.exists()]
    return sorted(directory.glob("????-??.db"))


def _query(path: Path, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cur = conn.execute(sql, args)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    except sqlite3.OperationalError:  # an archive file with no tables yet: holds nothing
        return []
    finally:
        conn.close()


_PAYMENT_SQL = ("SELECT p.*, o.body, o.state, o.last_error{} FROM payments p"
                " LEFT JOIN outbox o ON o.idem_key = p.txn_id")


def _query_payments(path: Path, where: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    """Payments rows with their outbox body (and its digest, where stored once: an archive
    written before bodies were stored once has no such column, and its bodies are whole)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        have = {r[1] for r in conn.execute("PRAGMA table_info(outbox)").fetchall()}
        cur = conn.execute(_PAYMENT_SQL.format(f", o.{BODY_DIGEST}" if BODY_DIGEST in have
                                               else "") + where, args)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    except sqlite3.OperationalError:  # an archive file with no tables yet: holds nothing
        return []
    finally:
        conn.close()


def archived_payment(db: Any, *, txn_id: str | None = None,
                     receipt_no: str | None = None) -> dict[str, Any] | None:
    """A payment the live database no longer holds, with its outbox body (empty with its
    digest where stored once: offline_queue/journal.py ``record_of`` rebuilds it); None if
    none."""
    col, value = ("txn_id", txn_id) if txn_id is not None else ("receipt_no", receipt_no)
    months = None
    if receipt_no is not None and len(receipt_no) >= 15:  # KIOSK-YYYYMMDD-NNNNN names its month
        digits = receipt_no.rsplit("-", 2)[-2]
        if len(digits) == 8 and digits.isdigit():
            months = [f"{digits[:4]}-{digits[4:6]}"]
    for path in reversed(_archives(db, months)):
        rows = _query_payments(path, f" WHERE p.{col} = ?", (value,))
        if rows:
            return rows[0]
    return None


def archived_payments_on(db: Any, day: str) -> list[dict[str, Any]]:
    """The payments of ``day`` held in its month's archive (and not in the live database)."""
    out = []
    for path in _archives(db, [day[:7]]):
        out.extend(_query_payments(path, " WHERE p.local_date = ?", (day,)))
    live = {r[0] for r in db.execute("SELECT txn_id FROM payments WHERE local_date = ?", (day,))}
    return [r for r in out if r["txn_id"] not in live]


def recent_archived(db: Any, n: int) -> list[tuple[str, int, str]]:
    """The ``n`` newest archived payments as (receipt_no, amount_minor, created_at), newest
    first: the newest month files first, only as many as it takes."""
    out: list[tuple[str, int, str]] = []
    for path in reversed(_archives(db)):
        if len(out) >= n:
            break
        rows = _query(path, "SELECT receipt_no, amount_minor, created_at FROM payments"
                            " ORDER BY created_at DESC, txn_id DESC LIMIT ?", (n - len(out),))
        out += [(r["receipt_no"], r["amount_minor"], r["created_at"]) for r in rows]
    return out
