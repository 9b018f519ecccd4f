"""What the rest of the terminal knows of a device: typed events, commands and health.

Drivers post these immutable events from their poll threads through a ``post`` callable; they
never touch session state.  Money is integer minor units (fen) everywhere.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable


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
class CodeScanned(DeviceEvent):
    """A barcode scanner read one code (a line with nothing dropped): its text as sent, and the
    symbology when the scanner names it (``qr``, ``code128``; "" when it does not). What the
    code means is decided on the deciding thread, not by the driver."""

    text: str
    symbology: str = ""


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
    """The device came up. ``condition``: one of POWER_UP_CONDITIONS (below)."""

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

#: what a bill validator's PowerUp.condition may be (the device's own power-up statuses)
POWER_UP_CONDITIONS = ("normal", "bill_in_acceptor", "bill_in_stacker")


@runtime_checkable
class Driver(Protocol):
    """The life cycle every polled device shares.

    A driver is built on an open port by its protocol's registry entry (drivers/registry.py);
    with ``owns_port`` true it closes that port in ``stop()``, otherwise its caller does.
    ``start(post)`` starts the driver's own poll thread(s) and returns at once; from then on
    only those threads touch the port, and they report everything through ``post`` as the
    immutable events above -- never touching session state (docs/architecture.md, "One thread
    decides"). ``post`` is called from those threads only. ``stop()`` (from any thread) ends
    the threads and leaves money acceptance inhibited where the device allows it.
    ``health()`` (any thread) is the driver's own view: UNKNOWN before start, FAULT while the
    device does not answer. ``threads`` names the running threads, so the device manager can
    notice one that died. ``stats`` counts what happened on the wire (at least
    ``port_errors``), for diagnostics and the manager's port-loss check.
    """

    name: str
    owns_port: bool

    def start(self, post: Post) -> None: ...
    def stop(self) -> None: ...
    def health(self) -> Health: ...

    @property
    def threads(self) -> tuple[threading.Thread, ...]: ...

    @property
    def stats(self) -> Mapping[str, int]: ...


@runtime_checkable
class Identified(Protocol):
    """Optional for every driver: ``identity()`` (any thread) says what the device reported
    about itself on the wire -- at least ``"protocol"``, and where the device tells them its
    firmware, serial number, bill table or channels -- as a JSON-ready mapping, for the operator
    (``kiosk devices``, ``kiosk diag``). Never money, never a secret (a key), and never a reason
    to refuse service; a value the device has not reported yet is absent or empty, not guessed.
    Test with ``isinstance(driver, Identified)``."""

    def identity(self) -> Mapping[str, object]: ...


@runtime_checkable
class BillValidator(Driver, Protocol):
    """A note acceptor with an escrow.

    Posts NoteEscrowed when a note is held (not money: the host answers with ``stack()`` or
    ``return_note()``), NoteCredited once per note when the device reports it safe (the only
    note event that is money), NoteStacked or NoteReturned after, NoteRejected for notes it
    refused by itself, DeviceFault/DeviceFaultCleared, and EventsLost when it cannot tell what
    happened to a note. On its first start it posts PowerUp with one of POWER_UP_CONDITIONS
    (also when only the host restarted: where the device's note is), and, when built with
    ``hold_power_up``, does not reset the device until ``release_power_up()`` -- the host
    calls that once it has journaled what the condition means, so a second power cut between
    cannot leave the journal and the cash box disagreeing. ``enable``/``disable``/``stack``/
    ``return_note`` may be called from any thread; they are queued for the poll thread.
    """

    def enable(self, denominations_minor: frozenset[int]) -> None: ...
    def disable(self) -> None: ...
    def stack(self) -> None: ...
    def return_note(self) -> None: ...
    def release_power_up(self) -> None: ...


@runtime_checkable
class CoinAcceptor(Driver, Protocol):
    """A coin acceptor: no escrow, a coin accepted is money.

    Posts CoinCredited once per new entry in the device's credit buffer, with the device's
    event counter, and EventsLost when the counter jumped (never a guessed coin). Built with
    the counter of the last coin journaled (``last_event_counter``), it credits the coins taken
    while the host was down, and none twice. ``enable``/``disable`` (any thread) are applied by
    the poll thread; until the first ``enable`` every coin is inhibited.
    """

    def enable(self, values_minor: frozenset[int]) -> None: ...
    def disable(self) -> None: ...

    @property
    def last_event_counter(self) -> int | None: ...


@runtime_checkable
class CardReader(Driver, Protocol):
    """A card reader: posts CardPresented when a card comes into the field and CardRemoved when
    it has been gone for the reader's removal time; the same card held in the field is one
    CardPresented. Card ids go to the log masked."""


@runtime_checkable
class Scanner(Driver, Protocol):
    """A barcode scanner: posts CodeScanned once per code read -- a line that is garbage, broke
    off or is longer than configured is dropped and counted in ``stats``, and the same code
    read again within the debounce window is not posted again. Codes go to the log masked."""


@runtime_checkable
class ReceiptPrinter(Protocol):
    """A receipt printer: passive, nothing runs on its own (no ``start``).

    ``status()`` asks the printer now (any thread; calls are serialised) and says UNKNOWN, not
    OK, when it does not answer. ``print_job(job)`` checks the status first (nothing is sent to
    a printer that cannot print), prints, checks again, and raises PrinterError saying why it
    did not or may not have printed. ``stop()`` closes the port if ``owns_port``.
    """

    name: str
    owns_port: bool

    def status(self) -> PrinterStatus: ...
    def print_job(self, job: PrintJob) -> None: ...
    def health(self) -> Health: ...
    def stop(self) -> None: ...


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
