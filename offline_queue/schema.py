"""Opening the database with the durability pragmas, and migrations by PRAGMA user_version."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlite_utils import Database

from offline_queue.errors import IntegrityError
from offline_queue.private import touch_private
from offline_queue.schema_steps import (_v6_prepaid, _v8_history_free, _v9_stored_once,
                                        _v10_requests_by_day, _v11_code_orders,
                                        _v12_open_payments)

def _v5_keyed_audit_and_decay(db: Database) -> None:
    """v5: the audit chain is sealed with a key from here on (docs/security.md, The audit key):
    the entries already there were hashed unkeyed, and how many is recorded so they still
    verify as what they are, and no later entry can pass for one of them. The terminal-wide
    failed-PIN counter decays with time, so it keeps when the last failure was."""
    last = db.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    if last:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_legacy_until', ?)",
                   (str(last),))
    db.execute("ALTER TABLE login_throttle ADD COLUMN last_failure_at REAL NOT NULL DEFAULT 0")


def _v7_staff_cards_and_resolutions(db: Database) -> None:
    """v7: staff cards (only a keyed hash of the card id is stored, docs/architecture.md, Staff)
    and what people decided about dead payments (re-addressed to a corrected account, or to be
    refunded), kept until each is settled (docs/promises.md, dead payments)."""
    for statement in _split("""
    CREATE TABLE staff_cards (
        card_mac TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES staff_users(user_id) ON DELETE CASCADE,
        registered_at TEXT NOT NULL,
        registered_by TEXT NOT NULL
    );
    CREATE TABLE payment_resolutions (
        txn_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('readdressed', 'refund')),
        new_txn_id TEXT UNIQUE,
        new_account TEXT,
        phone TEXT,
        decided_at TEXT NOT NULL,
        decided_by TEXT NOT NULL,
        settled_at TEXT,
        settled_by TEXT,
        CHECK ((kind = 'readdressed') = (new_txn_id IS NOT NULL)),
        CHECK ((kind = 'refund') = (phone IS NOT NULL))
    );
    """):
        db.execute(statement)


MIGRATIONS: tuple[str | Callable[[Database], None], ...] = (
    # v1
    """
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        seq INTEGER,
        kind TEXT NOT NULL,
        tender TEXT,
        value_minor INTEGER CHECK (value_minor IS NULL OR typeof(value_minor) = 'integer'),
        data TEXT NOT NULL DEFAULT '{}',
        at TEXT NOT NULL
    );
    CREATE INDEX journal_session ON journal(session_id);
    -- Promise 2: a safe event is credited once, even when the device repeats it.
    CREATE UNIQUE INDEX journal_credit_once ON journal(session_id, seq) WHERE kind = 'credit';
    CREATE TRIGGER journal_append_only_u BEFORE UPDATE ON journal
        BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
    CREATE TRIGGER journal_append_only_d BEFORE DELETE ON journal
        BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;

    CREATE TABLE payments (
        txn_id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL UNIQUE,
        account_no TEXT NOT NULL,
        amount_minor INTEGER NOT NULL CHECK (typeof(amount_minor) = 'integer' AND amount_minor > 0),
        notes TEXT NOT NULL,
        coins TEXT NOT NULL,
        created_at TEXT NOT NULL,
        local_date TEXT NOT NULL,
        offline INTEGER NOT NULL,
        receipt_no TEXT NOT NULL UNIQUE,
        recovered INTEGER NOT NULL DEFAULT 0,
        printed_at TEXT
    );
    CREATE INDEX payments_date ON payments(local_date);
    CREATE INDEX payments_account ON payments(account_no, created_at);

    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        idem_key TEXT NOT NULL UNIQUE,
        account_no TEXT,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        body BLOB NOT NULL,
        amount_minor INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'PENDING'
            CHECK (state IN ('PENDING', 'IN_FLIGHT', 'DELIVERED', 'DEAD')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT,
        status_code INTEGER,
        response TEXT,
        created_at REAL NOT NULL,
        delivered_at REAL
    );
    CREATE INDEX outbox_state ON outbox(state, next_attempt_at);
    CREATE INDEX outbox_account ON outbox(account_no, id);
    -- FIFO per account asks "is an older row of this account still open?" for every due row;
    -- without this partial index that walks all delivered rows (measured: 123x slower drain).
    CREATE INDEX outbox_open ON outbox(account_no, id) WHERE state IN ('PENDING', 'IN_FLIGHT');
    CREATE TRIGGER outbox_keep_until_delivered BEFORE DELETE ON outbox
        WHEN OLD.state != 'DELIVERED'
        BEGIN SELECT RAISE(ABORT, 'outbox rows are kept until delivered'); END;

    CREATE TABLE flags (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        value_minor INTEGER,
        at TEXT NOT NULL,
        resolved_at TEXT
    );

    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);

    -- Reference data seen while online (accounts, card→account), shown "as of" when offline.
    CREATE TABLE cache (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    """,
    # v2: staff access, the audit chain, persisted locking faults, cash collection, daily reports
    """
    CREATE TABLE staff_users (
        user_id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('maintenance', 'operator')),
        pin_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    -- Failed PIN attempts per entered id (known or not) and terminal-wide ('*'): the lockout
    -- survives a restart, so pulling the plug does not reset the delay.
    CREATE TABLE login_throttle (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0
    );

    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TRIGGER audit_append_only_u BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
    CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
    -- The last entry written, kept apart from the chain: cutting entries off the end shows.
    CREATE TABLE audit_anchor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    );

    CREATE TABLE locking_faults (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        raised_at TEXT NOT NULL,
        cleared_at TEXT,
        cleared_by TEXT
    );
    CREATE UNIQUE INDEX locking_faults_active ON locking_faults(device, code)
        WHERE cleared_at IS NULL;

    -- Power-up fault slips printed for operator flags (a failed print is retried at next start).
    CREATE TABLE flag_slips (
        flag_id INTEGER PRIMARY KEY,
        printed_at TEXT NOT NULL
    );

    CREATE TABLE device_settings (
        device TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        changed_by TEXT NOT NULL,
        PRIMARY KEY (device, key)
    );

    CREATE TABLE collection_batches (
        batch_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('OPEN', 'CLOSED', 'COUNTED')),
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        counted_at TEXT,
        journal_from INTEGER NOT NULL,
        journal_to INTEGER,
        device_open TEXT,
        device_close TEXT,
        closed_by TEXT,
        expected TEXT,
        counted TEXT,
        variance_minor INTEGER,
        device_variance_minor INTEGER,
        counted_by TEXT,
        printed_at TEXT
    );
    CREATE UNIQUE INDEX collection_one_open ON collection_batches(state) WHERE state = 'OPEN';

    CREATE TABLE report_runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        report_date TEXT NOT NULL,
        generated_at TEXT NOT NULL,
        generated_by TEXT NOT NULL,
        summary TEXT NOT NULL
    );
    -- Which payments a report covered and whether the server had them then: a payment reported
    -- undelivered and delivered later is listed once under the next report's late arrivals.
    CREATE TABLE reported_payments (
        txn_id TEXT PRIMARY KEY,
        report_seq INTEGER NOT NULL,
        delivered INTEGER NOT NULL,
        late_seq INTEGER
    );
    """,
    # v3: the database's own identity (compared at start with the high-water record kept outside
    # it, so a lost or replaced database is noticed) and a forward-only clock for offline age
    # (elapsed powered-on time, so a wall clock moved by days neither hides nor inflates age).
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('identity', lower(hex(randomblob(16))));
    ALTER TABLE outbox ADD COLUMN enqueued_elapsed_ms INTEGER;
    """,
    # v4: a row is its kind, its idempotency key and the bytes the billing gateway encoded; where
    # it goes is the gateway's business (offline_queue/gateway.py). Rows queued before say so
    # by their path; every row is delivered by its kind from here on, its bytes untouched.
    """
    UPDATE outbox SET kind = CASE
        WHEN path = '/v1/payments' THEN 'payment'
        WHEN path = '/v1/feedback' THEN 'rating'
        WHEN path LIKE '/v1/kiosks/%/collections' THEN 'collection'
        ELSE kind END;
    ALTER TABLE outbox DROP COLUMN method;
    ALTER TABLE outbox DROP COLUMN path;
    """,
    _v5_keyed_audit_and_decay,
    # v6: prepaid purchases written to the card (offline_queue/prepaid.py)
    _v6_prepaid(),
    # v7: staff cards and what people decided about dead payments
    _v7_staff_cards_and_resolutions,
)


MIGRATIONS = MIGRATIONS + (_v8_history_free(),)
MIGRATIONS = MIGRATIONS + (_v9_stored_once(),)
# v10: a day's service requests and e-bill sign-ups without walking the outbox
MIGRATIONS = MIGRATIONS + (_v10_requests_by_day(),)
# v11: the code tender's orders, each durable before its charge is sent
MIGRATIONS = MIGRATIONS + (_v11_code_orders(),)
# v12: the offline caps count queued payments only
MIGRATIONS = MIGRATIONS + (_v12_open_payments(),)

SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: str | Path, durable: bool = True) -> Database:
    """One connection with the pragmas every connection must have (they are per connection).

    ``durable=False`` is for a connection whose every write can be lost in a power cut without
    losing anything: the sync worker's delivery bookkeeping (IN_FLIGHT, DELIVERED, retry times,
    the circuit). A lost mark only means the row is sent again, and the server answers a replay
    with its original result (docs/billing-api.yaml, Idempotency-Key). In WAL mode every commit
    appends to the one log, so a later durable commit from any connection makes the earlier
    ones durable too: the order of states never goes back. It saves one fsync per state change
    and so most of a backlog's drain time. The journal, payments and outbox rows themselves are
    only ever written through durable connections."""
    if str(path) not in ("", ":memory:"):
        # Created 0600 in 0700 folders before SQLite opens it: SQLite gives the -wal and -shm
        # files the database file's own mode (docs/security.md, Files).
        touch_private(path)
    # Each thread opens its own connection; the default check makes a violation fail loudly.
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL may lose the last commits on power loss; WAL + FULL does not (SQLite
    # documentation, "PRAGMA synchronous").
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    db = Database(conn)
    migrate(db)
    return db


def migrate(db: Database) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise IntegrityError(f"database schema v{version} is newer than this software (v{SCHEMA_VERSION})")
    for number in range(version, SCHEMA_VERSION):
        step = MIGRATIONS[number]
        with db.atomic():
            if callable(step):
                step(db)
            else:
                for statement in _split(step):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")


def _split(script: str) -> list[str]:
    """Statements of a migration; triggers hold ';' inside BEGIN…END, so split on complete ones."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


@contextlib.contextmanager
def immediate(db: Database) -> Iterator[None]:
    """A write transaction that takes the write lock first (BEGIN IMMEDIATE). A deferred
    transaction that reads before it writes fails at once with "database is locked" when another
    connection (the sync worker, an SSH command) committed in between: SQLite cannot upgrade a
    stale read snapshot, and no busy timeout helps. Nested: a savepoint in the outer one."""
    if db.conn.in_transaction:
        with db.atomic():
            yield
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")
