"""Reference data cached from the billing API so the terminal can answer while offline."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database


class ReferenceCache:
    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, kind: str, key: str, value: dict[str, Any], fetched_at: str) -> None:
        self.db.execute(
            "INSERT INTO cache (kind, key, value, fetched_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(kind, key) DO UPDATE SET value = excluded.value,"
            " fetched_at = excluded.fetched_at",
            (kind, key, json.dumps(value, sort_keys=True), fetched_at),
        )

    def get(self, kind: str, key: str) -> tuple[dict[str, Any], str] | None:
        row = self.db.execute(
            "SELECT value, fetched_at FROM cache WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return (json.loads(row[0]), row[1]) if row else None
