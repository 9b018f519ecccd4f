"""Rules the reducer applies: limits from configuration, the escrow decision, the readiness gate.
Pure functions of values; each returns a reason code (a stable key the screens translate)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.flow.events import QueueState


@dataclass(frozen=True)
class FlowConfig:
    accepted_notes_minor: frozenset[int] = frozenset({100, 500, 1000, 2000, 5000, 10000})
    accepted_coins_minor: frozenset[int] = frozenset({10, 50, 100})
    min_amount_minor: int = 100
    max_txn_minor: int = 500_000
    # Offline caps (docs/promises.md): past any of them no new cash is taken while offline.
    offline_max_txn_minor: int = 100_000
    offline_max_pending_count: int = 200
    offline_max_pending_total_minor: int = 2_000_000
    offline_max_oldest_age_s: int = 3 * 24 * 3600
    insert_timeout_s: int = 60
    idle_timeout_s: int = 45
    receipt_timeout_s: int = 30
    quick_amounts_minor: tuple[int, ...] = field(default=(5000, 10000, 20000))


def amount_refusal(amount_minor: int, cfg: FlowConfig, queue: QueueState) -> str | None:
    """Why an amount cannot be paid now, or None."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        return "amount_invalid"
    if amount_minor < cfg.min_amount_minor:
        return "amount_below_minimum"
    if amount_minor > cfg.max_txn_minor:
        return "amount_above_maximum"
    return offline_refusal(queue, cfg, 0) if not queue.online else None


def offline_refusal(queue: QueueState, cfg: FlowConfig, adding_minor: int) -> str | None:
    """Offline caps: count, total (including what this session adds) and age of the oldest."""
    if queue.pending_count >= cfg.offline_max_pending_count:
        return "offline_queue_full"
    if queue.pending_total_minor + adding_minor > cfg.offline_max_pending_total_minor:
        return "offline_total_reached"
    if queue.oldest_pending_age_s > cfg.offline_max_oldest_age_s:
        return "offline_too_long"
    return None


def escrow_decision(
    value_minor: int, credited_minor: int, cfg: FlowConfig, queue: QueueState, alive: bool
) -> str | None:
    """None: stack the note. Otherwise the reason to return it."""
    if not alive:
        return "session_ended"
    if value_minor not in cfg.accepted_notes_minor:
        return "denomination_not_accepted"
    after = credited_minor + value_minor
    if after > cfg.max_txn_minor:
        return "over_transaction_maximum"
    if not queue.online:
        if after > cfg.offline_max_txn_minor:
            return "over_offline_maximum"
        return offline_refusal(queue, cfg, after)
    return None


def readiness_refusal(validator_ok: bool, faults: frozenset) -> str | None:
    if faults:
        return "out_of_service"
    if not validator_ok:
        return "validator_unavailable"
    return None


def prepaid_refusal(prepaid: bool, card_uid: str, offline: bool) -> str | None:
    """A prepaid purchase needs the utility's token and the card it is written to
    (docs/prepaid.md, "Offline"): refused up front, before any cash is taken."""
    if not prepaid:
        return None
    if not card_uid:
        return "prepaid_needs_card"
    if offline:
        return "prepaid_needs_online"
    return None
