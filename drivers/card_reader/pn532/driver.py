"""NXP PN532 card reader over HSU: a poll thread lists the type A target in the field and turns
a new UID into one CardPresented (a card held on the reader is one tap, however long it stays),
and its absence into one CardRemoved; a blocking block API for prepaid MIFARE Classic cards.

Threading: the poll thread only posts immutable events through ``post``.  ``read_block`` and
``write_block`` are called from the deciding thread's workers; every exchange on the line, the
poll's included, holds ``self._line``, so one command is in flight at a time (the PN532 is
half-duplex and answers one command at a time: UM0701-02, section 6.2).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from drivers.card_reader.pn532 import protocol as p
from drivers.card_reader.pn532.link import LINE_SETTINGS, Link, SyntaxErrorFrame
from drivers.errors import DriverError, FrameError, LinkTimeout, PortError
from drivers.interfaces import (
    CardPresented,
    CardRemoved,
    DeviceFault,
    DeviceFaultCleared,
    Health,
    HealthState,
)
from drivers.reader_thread import ReaderThread

log = logging.getLogger(__name__)

__all__ = ["Pn532Driver", "LINE_SETTINGS", "CardError", "CardRemovedError", "AuthFailed",
           "WriteFailed", "TornWrite", "WriteInterrupted", "BlockRefused", "ReaderError"]

DEFAULT_KEY = b"\xff" * 6  # MIFARE Classic transport key


# ---------------------------------------------------------------- typed errors
class CardError(DriverError):
    """A block operation failed; the subclasses say how."""


class ReaderError(CardError):
    """The reader did not answer, refused the command, or the port failed."""


class CardRemovedError(CardError):
    """The card with that UID is not (or no longer) in the field."""


class AuthFailed(CardError):
    """The sector refused the key (InDataExchange status 0x14)."""


class BlockRefused(CardError, ValueError):
    """Never sent: block 0 (manufacturer data) and sector trailers (keys and access bits) are
    never written, a wrong trailer locks the sector for good (MIFARE Classic 1K datasheet,
    memory organisation and access conditions)."""


class WriteFailed(CardError):
    """The block may not hold the data: the write was refused or could not be verified."""


class TornWrite(WriteFailed):
    """The read-back differs from what was written: the block holds something else now."""


class WriteInterrupted(WriteFailed, CardRemovedError):
    """The card left the field during the write: the block is old, new or torn -- unknown until
    the card is back and the block is read."""


class Pn532Driver(ReaderThread):
    """Drop-in card reader (same events as Em4100Driver) with ``read_block``/``write_block``."""

    THREAD_PREFIX = "pn532"
    SET_TIMEOUT = 0.02  # reads must return often enough for the command timeouts

    def __init__(self, name: str, port: Any, poll_interval: float = 0.2,
                 removal_polls: int = 2, ack_timeout: float = 0.1, answer_timeout: float = 0.5,
                 retry_interval: float = 1.0, owns_port: bool = False) -> None:
        if poll_interval <= 0 or ack_timeout <= 0 or answer_timeout <= 0 or retry_interval <= 0:
            raise ValueError("intervals and timeouts must be positive")
        if removal_polls < 1:
            raise ValueError("removal_polls must be at least 1")
        self.name = name
        self.port = port
        self.poll_interval = poll_interval
        self.removal_polls = removal_polls
        self.retry_interval = retry_interval
        self.link = Link(name, port, ack_timeout, answer_timeout)
        self.firmware: p.Firmware | None = None
        #: close ``port`` on stop() (the driver was given it to keep)
        self.owns_port = owns_port
        self._line = threading.RLock()
        self._ready = False  # woken and configured since the last link failure
        self._current: p.Target | None = None
        self._misses = 0
        self._fault: str | None = None
        ReaderThread.__init__(self)
        self._counts: dict[str, int] = {"polls": 0, "taps": 0, "removals": 0, "bad_answers": 0}

    @property
    def current_card(self) -> str | None:
        card = self._current
        return card.uid_hex if card else None

    @property
    def stats(self) -> dict[str, int]:
        """The line's counters (``port_errors`` among them) and the poll's own."""
        return {**self.link.all_stats(), **self._counts}

    def all_stats(self) -> dict[str, int]:
        return self.stats

    def identity(self) -> dict[str, str]:
        """What ``kiosk devices``/``kiosk diag`` can show."""
        return {"protocol": "pn532", "firmware": str(self.firmware) if self.firmware else "?"}

    # ------------------------------------------------------------ lifecycle
    def _started(self) -> None:
        """Health waits for the reader's first answer (the poll thread sets it)."""

    # ------------------------------------------------------------ poll thread
    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.poll_interval
            try:
                with self._line:
                    self._ensure_ready()
                    targets = self._list()
                self._link_ok()
                self._on_targets(targets)
            except (LinkTimeout, SyntaxErrorFrame, PortError) as exc:
                self._link_failed(exc)
                wait = self.retry_interval
            except FrameError as exc:  # a well-framed answer with nonsense inside: no event
                self._counts["bad_answers"] += 1
                log.warning("%s: unusable answer: %s", self.name, exc)
            except Exception:  # a bug in a handler must not stop the reader
                log.exception("%s: unexpected error", self.name)
            self._stop.wait(wait)

    def _ensure_ready(self) -> None:
        """Wake-up and configuration, after start and after every link failure (the reader may
        have been power-cycled: it then sleeps until woken and forgets its configuration)."""
        if self._ready:
            return
        self.link.wake()
        p.parse_empty(self.link.transact(p.SAM_CONFIGURATION, p.sam_configuration(), 2),
                      p.SAM_CONFIGURATION)
        # MxRtyPassiveActivation 0xFF would make an empty field block the line (7.3.1).
        p.parse_empty(self.link.transact(p.RF_CONFIGURATION, p.rf_max_retries(), 2),
                      p.RF_CONFIGURATION)
        self.firmware = p.parse_firmware(
            self.link.transact(p.GET_FIRMWARE_VERSION, p.get_firmware_version(), 2))
        self._ready = True
        log.info("%s: %s", self.name, self.firmware)

    def _list(self) -> list[p.Target]:
        self._counts["polls"] += 1
        frame = self.link.transact(p.IN_LIST_PASSIVE_TARGET, p.in_list_passive_target(), 2)
        return p.parse_list_passive_target(frame)

    def _on_targets(self, targets: list[p.Target]) -> None:
        """The UID came from a valid InListPassiveTarget answer (checksums good, structure
        parsed): only that makes a tap."""
        if not targets:
            self._misses += 1
            if self._current is not None and self._misses >= self.removal_polls:
                self._removed()
            return
        self._misses = 0
        target = targets[0]
        if self._current is not None and self._current.uid == target.uid:
            self._current = target  # same card, still there (its Tg may change): no new tap
            return
        if self._current is not None:
            self._removed()  # swapped for another card without an empty poll in between
        self._current = target
        self._counts["taps"] += 1
        log.info("%s: card %s presented", self.name, p.mask_uid(target.uid_hex))
        self._emit(CardPresented(self.name, target.uid_hex))

    def _removed(self) -> None:
        card, self._current = self._current, None
        if card is not None:
            self._counts["removals"] += 1
            log.info("%s: card %s removed", self.name, p.mask_uid(card.uid_hex))
            self._emit(CardRemoved(self.name, card.uid_hex))

    def _link_failed(self, exc: Exception) -> None:
        # The card is kept: if the same UID is listed once the reader answers again it is
        # the same tap; an empty field after recovery posts the removal then.
        self._ready = False
        code = "port" if isinstance(exc, PortError) else "no_answer"
        if self._fault != code:
            self._fault = code
            self._health = Health(HealthState.FAULT, f"card reader: {exc}")
            log.warning("%s: %s", self.name, exc)
            self._emit(DeviceFault(self.name, code, str(exc), locking=False))
        if isinstance(exc, PortError):
            self._reopen()

    def _reopen(self) -> None:
        try:
            if self.port.is_open:
                self.port.close()
            self.port.open()
        except Exception as exc:  # still gone: the next round tries again
            log.debug("%s: re-open failed: %s", self.name, exc)

    def _link_ok(self) -> None:
        if self._fault is not None:
            code, self._fault = self._fault, None
            log.info("%s: reader answers again", self.name)
            self._emit(DeviceFaultCleared(self.name, code))
        self._health = Health(HealthState.OK)

    # ------------------------------------------------------------ block API (worker threads)
    def read_block(self, uid: str, block: int, key: bytes = DEFAULT_KEY,
                   key_type: str = "A") -> bytes:
        """The 16 bytes of ``block`` of the card ``uid`` (hex).  Raises CardRemovedError,
        AuthFailed, ReaderError."""
        p.check_block(block)
        with self._line:
            tg, raw_uid = self._select(uid)
            try:
                self._authenticate(tg, raw_uid, block, key, key_type)
                return self._read(tg, block)
            finally:
                self._release(tg)

    def write_block(self, uid: str, block: int, data16: bytes, key: bytes = DEFAULT_KEY,
                    key_type: str = "A") -> None:
        """Write ``data16`` to ``block`` and read it back.  Raises BlockRefused (block 0 and
        sector trailers, before anything is sent), CardRemovedError (before the write),
        AuthFailed, WriteInterrupted (card gone during the write: the block's content is
        unknown), TornWrite (read-back differs), WriteFailed, ReaderError."""
        p.check_block(block)
        if block == 0 or p.is_sector_trailer(block):
            what = "the manufacturer block" if block == 0 else "a sector trailer"
            raise BlockRefused(f"block {block} is {what}: never written")
        data16 = bytes(data16)
        if len(data16) != p.BLOCK_SIZE:
            raise ValueError(f"a block is {p.BLOCK_SIZE} bytes, got {len(data16)}")
        with self._line:
            tg, raw_uid = self._select(uid)
            try:
                self._write(tg, raw_uid, block, data16, key, key_type)
            finally:
                self._release(tg)

    def _write(self, tg: int, raw_uid: bytes, block: int, data16: bytes, key: bytes,
               key_type: str) -> None:
        self._authenticate(tg, raw_uid, block, key, key_type)
        try:
            status, _ = self._exchange(tg, p.mifare_write(block, data16))
        except ReaderError as exc:
            raise WriteFailed(f"block {block}: {exc}; its content is unknown") from exc
        if status in p.CARD_GONE_STATUSES:
            raise WriteInterrupted(f"card left during the write of block {block}")
        if status != p.STATUS_OK:
            raise WriteFailed(f"block {block}: write refused ({p.status_text(status)})")
        try:
            back = self._read(tg, block)
        except CardRemovedError as exc:
            raise WriteInterrupted(f"card left before block {block} was read back") from exc
        if back != data16:
            raise TornWrite(f"block {block} reads back different bytes than written")

    def _release(self, tg: int) -> None:
        """Leave the card deselected (InRelease, 7.3.11); the next poll selects it afresh."""
        try:
            self.link.transact(p.IN_RELEASE, p.in_release(tg), 2)
        except (LinkTimeout, SyntaxErrorFrame, PortError) as exc:
            self._ready = False
            log.debug("%s: InRelease failed: %s", self.name, exc)

    def _select(self, uid: str) -> tuple[int, bytes]:
        try:
            want = bytes.fromhex(uid)
        except ValueError:
            raise ValueError(f"uid must be hex, got {uid!r}") from None
        try:
            self._ensure_ready()
            targets = self._list()
        except (LinkTimeout, SyntaxErrorFrame, PortError, FrameError) as exc:
            raise ReaderError(f"cannot list the card: {exc}") from exc
        for target in targets:
            if target.uid == want:
                return target.tg, target.uid
        raise CardRemovedError(f"card {p.mask_uid(uid.upper())} is not in the field")

    def _exchange(self, tg: int, payload: bytes) -> tuple[int, bytes]:
        try:
            frame = self.link.transact(p.IN_DATA_EXCHANGE, p.in_data_exchange(tg, payload))
            return p.parse_status(frame, p.IN_DATA_EXCHANGE)
        except (LinkTimeout, SyntaxErrorFrame, PortError, FrameError) as exc:
            if not isinstance(exc, FrameError):
                self._ready = False  # the reader may have been reset: wake it before the next
            raise ReaderError(str(exc)) from exc

    def _authenticate(self, tg: int, uid: bytes, block: int, key: bytes, key_type: str) -> None:
        status, _ = self._exchange(tg, p.mifare_auth(block, key, uid, key_type))
        if status == p.STATUS_AUTH_ERROR:
            raise AuthFailed(f"sector {p.sector_of(block)} refused key {key_type}")
        if status in p.CARD_GONE_STATUSES:
            raise CardRemovedError(f"card left during authentication ({p.status_text(status)})")
        if status != p.STATUS_OK:
            raise ReaderError(f"authentication: {p.status_text(status)}")

    def _read(self, tg: int, block: int) -> bytes:
        status, data = self._exchange(tg, p.mifare_read(block))
        if status in p.CARD_GONE_STATUSES:
            raise CardRemovedError(f"card left during the read of block {block}")
        if status != p.STATUS_OK:
            raise ReaderError(f"read of block {block}: {p.status_text(status)}")
        if len(data) != p.BLOCK_SIZE:
            raise ReaderError(f"read of block {block} returned {len(data)} bytes")
        return data
