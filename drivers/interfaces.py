"""What the rest of the terminal knows of a device: typed events, commands and health.

Drivers post these immutable events from their poll threads through a ``post`` callable; they
never touch session state.  Money is integer minor units (fen) everywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Protocol


class HealthState(str, enum.Enum):
    OK = "ok"
    DEGRADED = "degraded"
    FAULT = "fault"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Health:
    state: HealthState
    reason: str = ""


# ---------------------------------------------------------------- events
@dataclass(frozen=True)
class DeviceEvent:
    device: str


@dataclass(frozen=True)
class NoteEscrowed(DeviceEvent):
    """A note is held in escrow. Not money yet: the host must stack or return it."""

    denomination_minor: int
    channel: int


@dataclass(frozen=True)
class NoteCredited(DeviceEvent):
    """The device's safe event (ID-003 VEND VALID). The only note event that is money."""

    denomination_minor: int
    channel: int


@dataclass(frozen=True)
class NoteStacked(DeviceEvent):
    """The note reached the cash box (after it was credited)."""


@dataclass(frozen=True)
class NoteReturned(DeviceEvent):
    """An escrowed note went back to the resident."""

    denomination_minor: int
    reason: str


@dataclass(frozen=True)
class NoteRejected(DeviceEvent):
    """The device refused a note by itself (not escrowed, never money)."""

    reason: str
    code: int


@dataclass(frozen=True)
class CoinCredited(DeviceEvent):
    """A new entry in the coin acceptor's credit buffer: money."""

    value_minor: int
    channel: int
    event_counter: int


@dataclass(frozen=True)
class EventsLost(DeviceEvent):
    """The device's event counter jumped: events were lost. Flagged for the operator, never guessed."""

    count: int
    detail: str


@dataclass(frozen=True)
class CardPresented(DeviceEvent):
    card_uid: str


@dataclass(frozen=True)
class CardRemoved(DeviceEvent):
    card_uid: str


@dataclass(frozen=True)
class DeviceFault(DeviceEvent):
    """A fault. ``locking`` faults (jam, cash box removed, stacker full) keep the terminal out of
    service until cleared by staff or the device."""

    code: str
    reason: str
    locking: bool = True


@dataclass(frozen=True)
class DeviceFaultCleared(DeviceEvent):
    code: str


@dataclass(frozen=True)
class PowerUp(DeviceEvent):
    """The device came up. ``condition``: ``normal``, ``bill_in_acceptor`` or ``bill_in_stacker``."""

    condition: str


@dataclass(frozen=True)
class DeviceStatus(DeviceEvent):
    state: str
    detail: str = ""


# ---------------------------------------------------------------- printer
class PaperState(str, enum.Enum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PrinterStatus:
    """Real-time printer status. ``None`` means the printer did not answer: unknown, never OK."""

    online: bool | None
    cover_open: bool | None
    paper: PaperState

    @property
    def can_print(self) -> bool:
        return bool(self.online) and self.cover_open is False and self.paper in (
            PaperState.OK,
            PaperState.NEAR_END,
        )


@dataclass(frozen=True)
class PrintJob:
    """A receipt as the printer should render it: text lines (may hold Chinese), optional QR."""

    lines: tuple[str, ...]
    qr: str | None = None
    title: str | None = None
    cut: bool = True


class PrinterError(Exception):
    """The printer could not print the job (paper out, cover open, no answer)."""


# ---------------------------------------------------------------- driver interfaces
Post = Callable[[DeviceEvent], None]


class Driver(Protocol):
    name: str

    def start(self, post: Post) -> None: ...
    def stop(self) -> None: ...
    def health(self) -> Health: ...


class BillValidator(Driver, Protocol):
    def enable(self, denominations_minor: frozenset[int]) -> None: ...
    def disable(self) -> None: ...
    def stack(self) -> None: ...
    def return_note(self) -> None: ...


class CoinAcceptor(Driver, Protocol):
    def enable(self, values_minor: frozenset[int]) -> None: ...
    def disable(self) -> None: ...


class CardReader(Driver, Protocol):
    pass


class ReceiptPrinter(Protocol):
    name: str

    def status(self) -> PrinterStatus: ...
    def print_job(self, job: PrintJob) -> None: ...
    def health(self) -> Health: ...


@dataclass(frozen=True)
class ChannelMap:
    """Channel (or ID-003 denomination code) → value in minor units; data from config."""

    values: dict[int, int] = field(default_factory=dict)

    def value(self, channel: int) -> int | None:
        return self.values.get(channel)

    def channel_for(self, value_minor: int) -> int | None:
        for ch, v in self.values.items():
            if v == value_minor:
                return ch
        return None
