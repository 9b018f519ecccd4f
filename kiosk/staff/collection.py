"""Cash collection batches (docs/architecture.md).

A batch holds every note stacked between two cash box removals. Removing the box (the validator
reports *stacker open*) closes the open batch and opens the next. The operator then counts the
notes per denomination *blind*: nothing expected is shown until the count is entered. The
count is compared with the journal (notes credited in the batch's journal range) and with the
validator's own counters (their change over the batch), journaled and queued for the billing
API in one transaction; the result carries the collection receipt.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from sqlite_utils import Database

from drivers.interfaces import PrintJob
from kiosk.flow.money import format_minor
from kiosk.staff.errors import CollectionError
from offline_queue.journal import Journal
from offline_queue.schema import immediate

log = logging.getLogger(__name__)

#: the validator's cumulative stacked-note counters {denomination minor: count}, None if unknown
CounterSource = Callable[[], Mapping[Any, int] | None]
MAX_COUNT = 100_000


def _counts(raw: Mapping[Any, Any] | None) -> dict[int, int] | None:
    if raw is None:
        return None
    return {int(k): int(v) for k, v in raw.items() if int(v)}


def _value(counts: Mapping[int, int]) -> int:
    return sum(d * n for d, n in counts.items())


def _device_delta(row: Mapping[str, Any]) -> dict[int, int] | None:
    """Notes the validator counted over a closed batch: its counters at close minus at open."""
    if row["device_open"] is None or row["device_close"] is None:
        return None
    before = _counts(json.loads(row["device_open"])) or {}
    after = _counts(json.loads(row["device_close"])) or {}
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)}
    return {k: v for k, v in delta.items() if v}


def _wire(counts: Mapping[int, int]) -> dict[str, int]:
    return {str(d): n for d, n in sorted(counts.items())}


@dataclass(frozen=True)
class BlindBatch:
    """What the operator sees before counting: no expected figures."""

    batch_id: str
    state: str
    opened_at: str
    closed_at: str | None
    denominations: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "denominations": list(self.denominations)}


@dataclass(frozen=True)
class CollectionResult:
    batch_id: str
    opened_at: str
    closed_at: str
    counted_at: str
    counted_by: str
    counted: dict[int, int]
    expected: dict[int, int]  # from the journal
    device: dict[int, int] | None  # from the validator's counters; None: not available
    variance_minor: int  # counted - journal
    device_variance_minor: int | None  # counted - device

    @property
    def denominations(self) -> list[int]:
        keys = set(self.counted) | set(self.expected) | set(self.device or {})
        return sorted(keys, reverse=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id, "opened_at": self.opened_at, "closed_at": self.closed_at,
            "counted_at": self.counted_at, "counted_by": self.counted_by,
            "counted": _wire(self.counted), "expected": _wire(self.expected),
            "device": None if self.device is None else _wire(self.device),
            "counted_minor": _value(self.counted), "expected_minor": _value(self.expected),
            "device_minor": None if self.device is None else _value(self.device),
            "variance_minor": self.variance_minor,
            "device_variance_minor": self.device_variance_minor,
        }

    def receipt_job(self, kiosk_id: str) -> PrintJob:
        lines = [f"批次 Batch: {self.batch_id}", f"开始 Opened: {self.opened_at}",
                 f"结束 Closed: {self.closed_at}", "面额 Denom / 清点 Count / 账面 Journal / 设备 Device"]
        for denom in self.denominations:
            dev = "-" if self.device is None else str(self.device.get(denom, 0))
            lines.append(f"  {format_minor(denom)}: {self.counted.get(denom, 0)} / "
                         f"{self.expected.get(denom, 0)} / {dev}")
        lines += [
            f"清点合计 Counted: {format_minor(_value(self.counted))}",
            f"账面合计 Journal: {format_minor(_value(self.expected))}",
            f"差异 Variance: {format_minor(self.variance_minor)}",
            "设备差异 vs device: " + ("n/a" if self.device_variance_minor is None
                                      else format_minor(self.device_variance_minor)),
            f"操作员 Operator: {self.counted_by}",
            f"时间 Time: {self.counted_at}",
            f"终端 Terminal: {kiosk_id}",
        ]
        return PrintJob(lines=tuple(lines), title="现金清点单 Cash collection")


class CollectionService:
    def __init__(self, db: Database, journal: Journal, kiosk_id: str,
                 denominations: Iterable[int], counters: CounterSource | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.journal = journal
        self.kiosk_id = kiosk_id
        self.denominations = tuple(sorted(set(denominations), reverse=True))
        self.counters = counters
        self.clock = clock or journal.clock

    def _now(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def _device(self) -> dict[int, int] | None:
        if self.counters is None:
            return None
        try:
            return _counts(self.counters())
        except Exception as exc:  # a device that cannot say: the comparison is "not available"
            log.warning("validator counters unavailable: %s", exc)
            return None

    def _journal_head(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) FROM journal").fetchone()[0]

    # ---------------------------------------------------------------- batches
    def ensure_open(self) -> str:
        """The open batch's id. The very first batch holds everything journaled so far (no
        collection came before it) and starts from the validator's counters as they are now."""
        row = self.db.execute("SELECT batch_id FROM collection_batches WHERE state = 'OPEN'").fetchone()
        if row:
            return row[0]
        first = self.db.execute("SELECT count(*) FROM collection_batches").fetchone()[0] == 0
        return self._open(0 if first else self._journal_head(), self._device())

    def _open(self, journal_from: int, device: dict[int, int] | None) -> str:
        seq = self.db.execute("SELECT coalesce(max(seq), 0) + 1 FROM collection_batches").fetchone()[0]
        batch_id = f"{self.kiosk_id}-COL-{seq:05d}"
        self.db.execute(
            "INSERT INTO collection_batches (batch_id, seq, state, opened_at, journal_from,"
            " device_open) VALUES (?, ?, 'OPEN', ?, ?, ?)",
            (batch_id, seq, self._now(), journal_from,
             None if device is None else json.dumps(_wire(device))))
        return batch_id

    def close_current(self, by: str) -> BlindBatch | None:
        """The cash box came out: close the open batch and open the next. None when the open
        batch is empty (no note journaled, the counters unchanged): nothing to count."""
        with immediate(self.db):
            batch_id = self.ensure_open()
            row = self._row(batch_id)
            head, device = self._journal_head(), self._device()
            opened = _counts(json.loads(row["device_open"])) if row["device_open"] else None
            empty = not self._journal_notes(row["journal_from"], head) and (
                device is not None and opened is not None and device == opened)
            if empty:
                return None
            self.db.execute(
                "UPDATE collection_batches SET state = 'CLOSED', closed_at = ?, journal_to = ?,"
                " device_close = ?, closed_by = ? WHERE batch_id = ?",
                (self._now(), head, None if device is None else json.dumps(_wire(device)), by,
                 batch_id))
            self._open(head, device)
        log.info("collection batch %s closed (%s)", batch_id, by)
        return self.blind(batch_id)

    def _journal_notes(self, after: int, upto: int) -> dict[int, int]:
        rows = self.db.execute(
            "SELECT value_minor, count(*) FROM journal WHERE kind = 'credit' AND tender = 'note'"
            " AND id > ? AND id <= ? GROUP BY value_minor", (after, upto)).fetchall()
        return {int(v): int(n) for v, n in rows}

    def _row(self, batch_id: str) -> dict[str, Any]:
        rows = list(self.db.query("SELECT * FROM collection_batches WHERE batch_id = ?", [batch_id]))
        if not rows:
            raise CollectionError(f"no collection batch {batch_id!r}")
        return rows[0]

    def blind(self, batch_id: str) -> BlindBatch:
        row = self._row(batch_id)
        return BlindBatch(row["batch_id"], row["state"], row["opened_at"], row["closed_at"],
                          self.denominations)

    def awaiting_count(self) -> list[BlindBatch]:
        rows = self.db.execute(
            "SELECT batch_id FROM collection_batches WHERE state = 'CLOSED' ORDER BY seq").fetchall()
        return [self.blind(r[0]) for r in rows]

    def batches(self, closed_on: str | None = None) -> list[dict[str, Any]]:
        """Batch summaries; expected figures only for batches already counted (blind count)."""
        sql = "SELECT batch_id FROM collection_batches"
        args: list[Any] = []
        if closed_on:
            sql += " WHERE substr(closed_at, 1, 10) = ?"
            args.append(closed_on)
        out = []
        for (batch_id,) in self.db.execute(sql + " ORDER BY seq", args).fetchall():
            blind = self.blind(batch_id)
            item = {"batch_id": batch_id, "state": blind.state, "opened_at": blind.opened_at,
                    "closed_at": blind.closed_at}
            if blind.state == "COUNTED":
                item.update(self.result(batch_id).as_dict())
            out.append(item)
        return out

    # ---------------------------------------------------------------- counting
    def submit_count(self, batch_id: str, counted: Mapping[int, int], by: str) -> CollectionResult:
        """Record the blind count; journal it and queue it for the billing API, one transaction."""
        clean: dict[int, int] = {}
        for denom, n in counted.items():
            try:
                value = int(denom)
            except (TypeError, ValueError):
                raise CollectionError(f"{denom!r} is not a denomination in minor units") from None
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COUNT:
                raise CollectionError(f"count for {denom}: a whole number from 0 to {MAX_COUNT}")
            if value not in self.denominations:
                raise CollectionError(f"{format_minor(value)} is not a note this terminal takes")
            if n:
                clean[value] = clean.get(value, 0) + n
        with immediate(self.db):
            row = self._row(batch_id)
            if row["state"] == "OPEN":
                raise CollectionError(f"batch {batch_id} is still open: remove the cash box first")
            if row["state"] == "COUNTED":
                raise CollectionError(f"batch {batch_id} was counted already")
            expected = self._journal_notes(row["journal_from"], row["journal_to"])
            device = _device_delta(row)
            variance = _value(clean) - _value(expected)
            dev_var = None if device is None else _value(clean) - _value(device)
            now = self._now()
            self.db.execute(
                "UPDATE collection_batches SET state = 'COUNTED', counted_at = ?, expected = ?,"
                " counted = ?, variance_minor = ?, device_variance_minor = ?, counted_by = ?"
                " WHERE batch_id = ?",
                (now, json.dumps(_wire(expected)), json.dumps(_wire(clean)), variance, dev_var, by,
                 batch_id))
            body = {"kiosk_id": self.kiosk_id, "batch_id": batch_id, "opened_at": row["opened_at"],
                    "closed_at": row["closed_at"], "expected": _wire(expected),
                    "counted": _wire(clean), "variance_minor": variance, "created_at": now}
            self.db.execute(
                "INSERT INTO journal (session_id, seq, kind, tender, value_minor, data, at)"
                " VALUES (?, NULL, 'collection', 'note', ?, ?, ?)",
                (batch_id, _value(clean), json.dumps({
                    "counted": _wire(clean), "expected": _wire(expected),
                    "device": None if device is None else _wire(device),
                    "variance_minor": variance, "device_variance_minor": dev_var, "by": by,
                }, sort_keys=True), self.clock().isoformat(timespec="milliseconds")))
            self.journal.enqueue("collection", batch_id, body)
        log.info("collection %s counted: variance %d vs journal", batch_id, variance)
        return self.result(batch_id)

    def result(self, batch_id: str) -> CollectionResult:
        """A counted batch's figures. Refused before the count: the count is blind."""
        row = self._row(batch_id)
        if row["state"] != "COUNTED":
            raise CollectionError(f"batch {batch_id} is not counted yet")
        device = _device_delta(row)
        return CollectionResult(
            row["batch_id"], row["opened_at"], row["closed_at"], row["counted_at"],
            row["counted_by"], _counts(json.loads(row["counted"])) or {},
            _counts(json.loads(row["expected"])) or {}, device, row["variance_minor"],
            row["device_variance_minor"])

    def mark_printed(self, batch_id: str) -> None:
        self.db.execute("UPDATE collection_batches SET printed_at = ? WHERE batch_id = ?"
                        " AND printed_at IS NULL", (self._now(), batch_id))
