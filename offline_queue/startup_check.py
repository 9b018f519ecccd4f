"""The integrity check before taking money, in time that does not grow with history.

A power cut can only tear what was being written: with WAL and ``synchronous=FULL`` (SQLite
documentation, "Write-Ahead Logging", "PRAGMA synchronous") those are the last transactions,
which land on the tables' rightmost pages (every history table is append-ordered by rowid) and
on the small tables that are updated in place. So before acceptance:

- every table that does not grow with history gets ``PRAGMA quick_check(table)`` in full;
- each history table has its last ``tail`` rows read in full and looked up through every one of
  its indexes, so a torn leaf or an index entry that did not land shows.

The full ``PRAGMA quick_check`` still runs: in the background once the terminal is up
(kiosk/services/integrity_watch.py, a locking fault if it fails) and when staff ask for it
(the diagnostics, ``kiosk/staff/diag.py``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

#: tables that grow by one or more rows per payment, appended in rowid order
HISTORY = ("journal", "payments", "outbox", "audit_log", "reported_payments", "flags",
           "report_runs", "collection_batches")
TAIL_ROWS = 64


def recent_problem(db: Any, tail: int = TAIL_ROWS) -> str | None:
    """None when the bounded check passes, else what it (or SQLite) said."""
    try:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()]
        problems: list[str] = []
        for table in tables:
            if table in HISTORY:
                problems += _tail(db, table, tail)
            else:
                rows = [r[0] for r in db.execute(f"PRAGMA quick_check({table})").fetchall()]
                if rows != ["ok"]:
                    problems += rows
            if problems:
                return "; ".join(problems[:5])
    except sqlite3.DatabaseError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _tail(db: Any, table: str, tail: int) -> list[str]:
    cur = db.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid DESC LIMIT ?", (tail,))
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()  # reading every column decodes every leaf and overflow page
    if not rows:
        return []
    problems = []
    for _seq, index, _unique, _origin, partial in db.execute(
            f"PRAGMA index_list({table})").fetchall():
        if partial:  # covers only some rows; the full check sees it
            continue
        keys = [r[2] for r in db.execute(f"PRAGMA index_info({index})").fetchall()]
        if not keys or keys[0] is None:  # an expression index: left to the full check
            continue
        # Each of the newest rows looked up through the index by its whole key and rowid (the
        # index's last column), so the seek costs the same whatever lies before it: one
        # statement per index, the seeks done inside SQLite rather than one call per row.
        cols = ", ".join(f'"{k}"' for k in keys)
        match = " AND ".join(f'i."{k}" IS r."{k}"' for k in keys)
        missing = db.execute(
            f'SELECT count(*) FROM (SELECT rowid AS "rowid:", {cols} FROM {table} NOT INDEXED'
            f' ORDER BY rowid DESC LIMIT ?) AS r WHERE NOT EXISTS (SELECT 1 FROM {table} AS i'
            f' INDEXED BY {index} WHERE {match} AND i.rowid = r."rowid:")', (tail,)).fetchone()[0]
        if missing:
            problems.append(f"{missing} of the newest rows of {table} missing from index {index}")
    return problems
