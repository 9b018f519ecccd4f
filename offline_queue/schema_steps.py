"""Later schema steps written as SQL scripts, kept apart from offline_queue/schema.py (which
applies them in order and holds the earlier ones) so neither grows past a reader's page. Each
returns its script; ``schema.MIGRATIONS`` lists them at their version."""

from __future__ import annotations


def _v6_prepaid() -> str:
    """v6, self-contained: one row per prepaid payment (its last step, the utility's token) and
    the append-only log of every step of its card write (docs/prepaid.md)."""
    return """
CREATE TABLE prepaid_writes (
    txn_id TEXT PRIMARY KEY,
    account_no TEXT NOT NULL,
    card_uid TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (typeof(amount_minor) = 'integer' AND amount_minor > 0),
    state TEXT NOT NULL,
    token TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX prepaid_writes_open ON prepaid_writes(card_uid) WHERE state NOT IN ('done');
CREATE TABLE prepaid_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    txn_id TEXT NOT NULL REFERENCES prepaid_writes(txn_id),
    step TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE TRIGGER prepaid_steps_append_only_u BEFORE UPDATE ON prepaid_steps
    BEGIN SELECT RAISE(ABORT, 'prepaid_steps is append-only'); END;
CREATE TRIGGER prepaid_steps_append_only_d BEFORE DELETE ON prepaid_steps
    BEGIN SELECT RAISE(ABORT, 'prepaid_steps is append-only'); END;
"""


def _v8_history_free() -> str:
    """v8: nothing a resident or a sync pass waits on grows with history (docs/architecture.md,
    "Costs that do not grow with history"). Kept to triggers so every writer, old or new code,
    keeps them right in the same transaction as the change they count:

    - ``outbox_counts``: rows and money per state, so queue figures are one row read each;
    - ``outbox_head``: each account's oldest open row, so ``due()`` reads one row per account
      instead of sorting the backlog (FIFO per account, docs/promises.md "Delivered exactly once");
    - ``journal_open``: sessions seen started and not ended, for power-up reconciliation;
    - ``archive_permit``: the journal's append-only rule, with the one exception of rows a
      verified monthly archive holds (offline_queue/archive.py)."""
    return """
    CREATE TABLE outbox_counts (
        state TEXT PRIMARY KEY,
        n INTEGER NOT NULL,
        total_minor INTEGER NOT NULL CHECK (typeof(total_minor) = 'integer')
    );
    INSERT INTO outbox_counts (state, n, total_minor)
        VALUES ('PENDING', 0, 0), ('IN_FLIGHT', 0, 0), ('DELIVERED', 0, 0), ('DEAD', 0, 0);
    UPDATE outbox_counts SET
        n = (SELECT count(*) FROM outbox o WHERE o.state = outbox_counts.state),
        total_minor = (SELECT coalesce(sum(amount_minor), 0) FROM outbox o
                       WHERE o.state = outbox_counts.state);
    CREATE TRIGGER outbox_count_i AFTER INSERT ON outbox BEGIN
        UPDATE outbox_counts SET n = n + 1, total_minor = total_minor + NEW.amount_minor
            WHERE state = NEW.state;
    END;
    CREATE TRIGGER outbox_count_u AFTER UPDATE OF state ON outbox WHEN OLD.state != NEW.state BEGIN
        UPDATE outbox_counts SET n = n - 1, total_minor = total_minor - OLD.amount_minor
            WHERE state = OLD.state;
        UPDATE outbox_counts SET n = n + 1, total_minor = total_minor + NEW.amount_minor
            WHERE state = NEW.state;
    END;
    CREATE TRIGGER outbox_count_d AFTER DELETE ON outbox BEGIN
        UPDATE outbox_counts SET n = n - 1, total_minor = total_minor - OLD.amount_minor
            WHERE state = OLD.state;
    END;

    CREATE TABLE outbox_head (account_no TEXT PRIMARY KEY, id INTEGER NOT NULL UNIQUE);
    INSERT INTO outbox_head (account_no, id)
        SELECT account_no, min(id) FROM outbox
        WHERE account_no IS NOT NULL AND state IN ('PENDING', 'IN_FLIGHT') GROUP BY account_no;
    CREATE TRIGGER outbox_head_i AFTER INSERT ON outbox
        WHEN NEW.account_no IS NOT NULL AND NEW.state IN ('PENDING', 'IN_FLIGHT') BEGIN
        INSERT OR IGNORE INTO outbox_head (account_no, id) VALUES (NEW.account_no, NEW.id);
    END;
    CREATE TRIGGER outbox_head_closed AFTER UPDATE OF state ON outbox
        WHEN NEW.account_no IS NOT NULL AND OLD.state IN ('PENDING', 'IN_FLIGHT')
        AND NEW.state NOT IN ('PENDING', 'IN_FLIGHT') BEGIN
        DELETE FROM outbox_head WHERE account_no = NEW.account_no AND id = NEW.id;
        INSERT OR IGNORE INTO outbox_head (account_no, id)
            SELECT account_no, id FROM outbox WHERE account_no = NEW.account_no
            AND state IN ('PENDING', 'IN_FLIGHT') ORDER BY id LIMIT 1;
    END;
    CREATE TRIGGER outbox_head_reopened AFTER UPDATE OF state ON outbox
        WHEN NEW.account_no IS NOT NULL AND OLD.state NOT IN ('PENDING', 'IN_FLIGHT')
        AND NEW.state IN ('PENDING', 'IN_FLIGHT') BEGIN
        DELETE FROM outbox_head WHERE account_no = NEW.account_no AND id > NEW.id;
        INSERT OR IGNORE INTO outbox_head (account_no, id) VALUES (NEW.account_no, NEW.id);
    END;
    -- Rows without an account (ratings, collections) never wait for another; these two partial
    -- indexes cover only open rows, so their cost follows the backlog, never the history.
    CREATE INDEX outbox_unowned_due ON outbox(id) WHERE account_no IS NULL AND state = 'PENDING';
    CREATE INDEX outbox_open_age ON outbox(enqueued_elapsed_ms)
        WHERE state IN ('PENDING', 'IN_FLIGHT');
    -- FIFO per account reads outbox_head and outbox_open now; this index over every row ever
    -- queued (23 bytes a payment, measured by benchmarks/bench_scale.py) answered nothing else.
    DROP INDEX outbox_account;
    -- The daily report's late arrivals: only rows still waiting to be listed.
    CREATE INDEX reported_waiting ON reported_payments(txn_id)
        WHERE delivered = 0 AND late_seq IS NULL;

    CREATE TABLE journal_open (session_id TEXT PRIMARY KEY);
    INSERT INTO journal_open (session_id)
        SELECT session_id FROM journal WHERE kind = 'session_start' EXCEPT
        SELECT session_id FROM journal WHERE kind = 'session_end';
    CREATE TRIGGER journal_open_start AFTER INSERT ON journal WHEN NEW.kind = 'session_start' BEGIN
        INSERT OR IGNORE INTO journal_open (session_id) VALUES (NEW.session_id);
    END;
    CREATE TRIGGER journal_open_end AFTER INSERT ON journal WHEN NEW.kind = 'session_end' BEGIN
        DELETE FROM journal_open WHERE session_id = NEW.session_id;
    END;

    -- What the high-water record compares after every commit and at start
    -- (offline_queue/highwater.py): counted as rows come and go, never by a walk.
    CREATE TABLE row_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
    INSERT INTO row_counts (name, n) VALUES
        ('payments', (SELECT count(*) FROM payments)),
        ('note_credits', (SELECT count(*) FROM journal WHERE kind = 'credit' AND tender = 'note'));
    CREATE TRIGGER payments_count_i AFTER INSERT ON payments BEGIN
        UPDATE row_counts SET n = n + 1 WHERE name = 'payments';
    END;
    CREATE TRIGGER payments_count_d AFTER DELETE ON payments BEGIN
        UPDATE row_counts SET n = n - 1 WHERE name = 'payments';
    END;
    CREATE TRIGGER note_credits_count_i AFTER INSERT ON journal
        WHEN NEW.kind = 'credit' AND NEW.tender = 'note' BEGIN
        UPDATE row_counts SET n = n + 1 WHERE name = 'note_credits';
    END;
    CREATE TRIGGER note_credits_count_d AFTER DELETE ON journal
        WHEN OLD.kind = 'credit' AND OLD.tender = 'note' BEGIN
        UPDATE row_counts SET n = n - 1 WHERE name = 'note_credits';
    END;

    -- Retention (offline_queue/archive.py): a month's rows leave the live database only after
    -- the archive file holding them was written, synced and read back (its digest recorded).
    CREATE TABLE archive_moves (
        month TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('COPYING', 'VERIFIED', 'REMOVED')),
        payments INTEGER NOT NULL DEFAULT 0,
        journal_rows INTEGER NOT NULL DEFAULT 0,
        note_credits INTEGER NOT NULL DEFAULT 0,
        digest TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE archive_permit (
        journal_id INTEGER PRIMARY KEY,
        month TEXT NOT NULL REFERENCES archive_moves(month)
    );
    DROP TRIGGER journal_append_only_d;
    CREATE TRIGGER journal_append_only_d BEFORE DELETE ON journal
        WHEN NOT EXISTS (SELECT 1 FROM archive_permit p JOIN archive_moves m ON m.month = p.month
                         WHERE p.journal_id = OLD.id AND m.state = 'VERIFIED')
        BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
    """


def _v9_stored_once() -> str:
    """v9: what was stored twice or never read goes (docs/architecture.md, "Costs that do not
    grow with history"):

    - ``outbox_state`` indexed every row ever queued by (state, next_attempt_at), 21 bytes a
      payment (benchmarks/bench_scale.py): due rows come from ``outbox_head`` and
      ``outbox_unowned_due`` since v8, so only the two states looked up by name (a crash's
      IN_FLIGHT rows at start, the dead letters staff see) keep an index, over those rows only;
    - ``device_settings``: written by nothing and read by nothing since device settings left
      the database (the configuration file's ``[devices.*]`` tables hold them, README.md)."""
    return """
    DROP INDEX outbox_state;
    CREATE INDEX outbox_in_flight ON outbox(id) WHERE state = 'IN_FLIGHT';
    CREATE INDEX outbox_dead ON outbox(id) WHERE state = 'DEAD';
    DROP TABLE device_settings;
    """


def _v10_requests_by_day() -> str:
    """v10: the daily report counts a day's service requests and e-bill sign-ups by kind
    (kiosk/staff/report.py) from a partial index over those rows only, so it reads the day and
    not the whole outbox (docs/architecture.md, "Costs that do not grow with history")."""
    return """
    CREATE INDEX outbox_requests_by_time ON outbox(created_at)
        WHERE kind IN ('service_request', 'ebill');
    """
def _v11_code_orders() -> str:
    """v11, self-contained: one row per attempt to charge the resident's phone payment code
    (docs/payment-gateway.yaml). The row is committed before the charge is sent, so a restart
    finds every order that might have charged and resolves it (queried, then recorded as a
    payment or reversed, docs/promises.md); ``recorded`` is set in the payment's own
    transaction, so a paid order is a payment exactly once."""
    return """
CREATE TABLE code_orders (
    order_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    account_no TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (typeof(amount_minor) = 'integer' AND amount_minor > 0),
    state TEXT NOT NULL CHECK (state IN ('charging', 'user_paying', 'paid', 'unknown', 'failed',
                                         'reversing', 'reversed', 'recorded')),
    gateway_ref TEXT,
    reason TEXT NOT NULL DEFAULT '',
    txn_id TEXT UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK ((state = 'recorded') = (txn_id IS NOT NULL)),
    CHECK (state NOT IN ('paid', 'recorded') OR gateway_ref IS NOT NULL)
);
CREATE INDEX code_orders_open ON code_orders(order_id)
    WHERE state NOT IN ('failed', 'reversed', 'recorded');
-- one paid order per session: the payment's txn_id is the session's
CREATE UNIQUE INDEX code_orders_paid_once ON code_orders(session_id)
    WHERE state IN ('paid', 'recorded');
"""


def _v12_open_payments() -> str:
    """v12: the offline caps count payments only (docs/promises.md, "Offline is bounded"). A
    rating, a service request or a cash-box report waiting beside the payments is no cash at
    risk, yet it counted toward the cap on queued payments and the oldest queued row's age.
    ``payment_counts`` keeps the open payments per open state (PENDING, IN_FLIGHT), by triggers
    of its own in the same transaction as each change; the oldest open payment is one step of
    a partial index over open payments. Written to be run again harmlessly (IF NOT EXISTS, the
    counts recomputed), so a database taken back to an older version migrates."""
    return """
    CREATE TABLE IF NOT EXISTS payment_counts (
        state TEXT PRIMARY KEY CHECK (state IN ('PENDING', 'IN_FLIGHT')),
        n INTEGER NOT NULL,
        total_minor INTEGER NOT NULL CHECK (typeof(total_minor) = 'integer')
    );
    INSERT OR REPLACE INTO payment_counts (state, n, total_minor)
        SELECT s.state, count(o.id), coalesce(sum(o.amount_minor), 0)
        FROM (SELECT 'PENDING' AS state UNION ALL SELECT 'IN_FLIGHT') AS s
        LEFT JOIN outbox o ON o.state = s.state AND o.kind = 'payment' GROUP BY s.state;
    CREATE TRIGGER IF NOT EXISTS payment_count_i AFTER INSERT ON outbox
        WHEN NEW.kind = 'payment' BEGIN
        UPDATE payment_counts SET n = n + 1, total_minor = total_minor + NEW.amount_minor
            WHERE state = NEW.state;
    END;
    CREATE TRIGGER IF NOT EXISTS payment_count_u AFTER UPDATE OF state ON outbox
        WHEN NEW.kind = 'payment' AND OLD.state != NEW.state BEGIN
        UPDATE payment_counts SET n = n - 1, total_minor = total_minor - OLD.amount_minor
            WHERE state = OLD.state;
        UPDATE payment_counts SET n = n + 1, total_minor = total_minor + NEW.amount_minor
            WHERE state = NEW.state;
    END;
    CREATE TRIGGER IF NOT EXISTS payment_count_d AFTER DELETE ON outbox
        WHEN OLD.kind = 'payment' BEGIN
        UPDATE payment_counts SET n = n - 1, total_minor = total_minor - OLD.amount_minor
            WHERE state = OLD.state;
    END;
    CREATE INDEX IF NOT EXISTS outbox_open_payment_age ON outbox(enqueued_elapsed_ms)
        WHERE kind = 'payment' AND state IN ('PENDING', 'IN_FLIGHT');
    """
