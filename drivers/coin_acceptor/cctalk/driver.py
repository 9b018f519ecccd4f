"""ccTalk coin acceptor driver: one poll thread owns the port, reads the header 229 credit buffer
and posts each new coin once; commands from other threads go through a queue."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import serial

from drivers.coin_acceptor.cctalk import protocol as p
from drivers.coin_acceptor.cctalk.protocol import CoinAcceptorIdentity
from drivers.errors import DriverError, FrameError, LinkTimeout, PortError
from drivers.interfaces import (
    ChannelMap,
    CoinCredited,
    DeviceFault,
    DeviceFaultCleared,
    DeviceStatus,
    EventsLost,
    Health,
    HealthState,
    Post,
    PowerUp,
)

log = logging.getLogger(__name__)

INTER_BYTE_TIMEOUT = 0.05  # Part 1: a partial message is dropped after 50 ms of silence
SELF_CHECK_INTERVAL = 1.0  # while a mechanism fault is open: header 232 tells when it clears


class CommandRefused(DriverError):
    """The device answered NAK: it understood the frame and refused the command."""


@dataclass(eq=False)
class _Request:
    kind: str
    arg: Any = None
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


_STOP = _Request("stop")

_STAT_KEYS = (
    "tx rx_ok timeouts no_echo echo_mismatch bad_frames truncated trailing_garbage stray_bytes "
    "drained_bytes retries nak busy port_errors comm_failures credits events_lost"
).split()


class CcTalkDriver:
    """Coin acceptor over ccTalk.  ``last_event_counter`` (optional) is the counter of the last
    event the terminal recorded: with it, coins that arrived while the kiosk was down are credited
    from the buffer after a restart; without it the first reading is taken as the baseline."""

    def __init__(
        self,
        name: str,
        port: serial.SerialBase,
        channels: ChannelMap,
        address: int = p.ADDR_COIN_ACCEPTOR,
        checksum: str = p.SIMPLE,
        poll_interval: float = 0.1,
        reply_timeout: float = 0.3,
        retries: int = 3,
        *,
        host_address: int = p.ADDR_HOST,
        last_event_counter: int | None = None,
        owns_port: bool = False,
    ) -> None:
        if checksum not in p.MODES:
            raise ValueError(f"checksum must be one of {p.MODES}, not {checksum!r}")
        if retries < 1:
            raise ValueError("retries must be at least 1")
        self.name = name
        self.port = port
        #: close ``port`` on stop() (the driver was given it to keep)
        self.owns_port = owns_port
        self.channels = channels
        self.address = address
        self.mode = checksum
        self.poll_interval = poll_interval
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.host = host_address
        self.stats: dict[str, int] = {k: 0 for k in _STAT_KEYS}
        self._tracker = p.EventTracker(last_event_counter)
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._desired: frozenset[int] = frozenset()
        self._inhibit_dirty = True  # the first cycle makes the device's inhibit state ours
        self._comm_down = False
        self._faults: dict[str, str] = {}
        self._next_self_check = 0.0
        self._health = Health(HealthState.UNKNOWN, "not started")
        self._post: Post = lambda event: None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        baud = getattr(port, "baudrate", 9600) or 9600
        self._byte_time = 10.0 / baud  # 8N1: ten bit times per byte

    # ------------------------------------------------------------ public API (any thread)
    @property
    def last_event_counter(self) -> int | None:
        return self._tracker.last

    def start(self, post: Post) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"{self.name}: already started")
        if self.port.timeout is None or self.port.timeout > INTER_BYTE_TIMEOUT:
            self.port.timeout = INTER_BYTE_TIMEOUT  # so reads never outlast our own deadlines
        self._post = post
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"cctalk-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._requests.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.owns_port:
            self.port.close()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The poll thread while started (the device manager watches it for a crash)."""
        return (self._thread,) if self._thread is not None else ()

    def enable(self, values_minor: frozenset[int]) -> None:
        """Accept coins of these values (others stay inhibited).  Applied by the poll thread."""
        self._requests.put(_Request("inhibit", frozenset(values_minor)))

    def disable(self) -> None:
        self._requests.put(_Request("inhibit", frozenset()))

    def identify(self, timeout: float = 3.0) -> CoinAcceptorIdentity:
        """Manufacturer, product code, serial number and software revision (diagnostics)."""
        if self._thread is None or not self._thread.is_alive():
            raise DriverError(f"{self.name}: driver not running")
        req = _Request("identify")
        self._requests.put(req)
        if not req.done.wait(timeout):
            raise LinkTimeout(f"{self.name}: identify not answered within {timeout} s")
        if req.error is not None:
            raise req.error
        return req.result

    def health(self) -> Health:
        return self._health

    # ------------------------------------------------------------ poll thread
    def _run(self) -> None:
        log.info("%s: polling ccTalk address %d (%s checksum)", self.name, self.address, self.mode)
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self._guarded(self._cycle)
                self._serve_requests(started + self.poll_interval)
        finally:
            self._shutdown()

    def _guarded(self, action: Any) -> None:
        try:
            action()
        except LinkTimeout as exc:
            self._comm_failed(exc)
        except CommandRefused as exc:
            log.warning("%s: %s", self.name, exc)
        except Exception:  # a bug must not kill the only thread that reads the credit buffer
            log.exception("%s: unexpected error in poll cycle", self.name)

    def _serve_requests(self, until: float) -> None:
        while not self._stop.is_set():
            remaining = until - time.monotonic()
            if remaining <= 0:
                return
            try:
                req = self._requests.get(timeout=remaining)
            except queue.Empty:
                return
            if req is _STOP:
                return
            if req.kind == "inhibit":
                self._desired = req.arg
                self._inhibit_dirty = True
                self._guarded(self._apply_inhibit)
            else:  # identify
                try:
                    req.result = self._identify()
                except DriverError as exc:
                    req.error = exc
                    if isinstance(exc, LinkTimeout):
                        self._comm_failed(exc)
                req.done.set()

    def _cycle(self) -> None:
        reply = self._transact(p.HDR_READ_BUFFERED_CREDIT, data_len=p.CREDIT_BUFFER_LEN)
        self._comm_ok()
        self._handle_buffer(p.parse_credit_buffer(reply.data))
        if self._inhibit_dirty:
            self._apply_inhibit()
        if self._faults and time.monotonic() >= self._next_self_check:
            self._self_check()

    def _shutdown(self) -> None:
        # Leave the acceptor inhibited: coins taken while nobody polls would sit uncredited.
        try:
            self._transact(p.HDR_MODIFY_MASTER_INHIBIT_STATUS, b"\x00")
        except DriverError as exc:
            log.warning("%s: could not inhibit on stop: %s", self.name, exc)
        while not self._requests.empty():
            req = self._requests.get_nowait()
            req.error = DriverError(f"{self.name}: driver stopped")
            req.done.set()
        self._health = Health(HealthState.UNKNOWN, "stopped")

    # ------------------------------------------------------------ events
    def _handle_buffer(self, buf: p.CreditBuffer) -> None:
        res = self._tracker.update(buf)
        if res.reset:
            log.info("%s: event counter 0 (was %s): powered up or reset", self.name, res.previous)
            self._inhibit_dirty = True  # a reset device comes up inhibited
            self._post(PowerUp(self.name, "normal"))
        if res.first_sync:
            log.info("%s: event counter baseline %d", self.name, buf.counter)
            self._post(DeviceStatus(self.name, "synced", f"event counter {buf.counter}"))
        if res.lost:
            self.stats["events_lost"] += res.lost
            detail = f"event counter jumped from {res.previous} to {buf.counter}: {res.lost} unread"
            log.error("%s: %s", self.name, detail)
            self._post(EventsLost(self.name, res.lost, detail))
        for ev in res.new:
            self._handle_event(ev)

    def _handle_event(self, ev: p.BufferedEvent) -> None:
        if ev.is_credit:
            value = self.channels.value(ev.result_a)
            if value is None:
                detail = f"coin on channel {ev.result_a} (event {ev.counter}): no value configured"
                log.error("%s: %s", self.name, detail)
                self._post(EventsLost(self.name, 1, detail))
                return
            self.stats["credits"] += 1
            log.info("%s: %d fen, channel %d, event %d", self.name, value, ev.result_a, ev.counter)
            self._post(CoinCredited(self.name, value, ev.result_a, ev.counter))
            return
        code = ev.result_b
        if code == 0:  # null event
            return
        text, kind = p.describe_error(code)  # result A = 0: result B is an error code
        detail = f"{text} (code {code}, event {ev.counter})"
        if kind == "fault":
            slug = p.error_slug(code)
            self._faults[slug] = text
            self._next_self_check = time.monotonic() + SELF_CHECK_INTERVAL
            log.warning("%s: fault %s", self.name, detail)
            self._update_health()
            self._post(DeviceFault(self.name, slug, detail, locking=False))
        else:
            state = {"reject": "coin_rejected", "fraud": "coin_rejected_suspicious"}.get(kind)
            self._post(DeviceStatus(self.name, state or "alarm", detail))

    def _self_check(self) -> None:
        self._next_self_check = time.monotonic() + SELF_CHECK_INTERVAL
        reply = self._transact(p.HDR_PERFORM_SELF_CHECK)
        if reply.data and reply.data[0] != p.FAULT_OK:
            return
        for slug in list(self._faults):
            del self._faults[slug]
            log.info("%s: fault %s cleared (self-check OK)", self.name, slug)
            self._post(DeviceFaultCleared(self.name, slug))
        self._update_health()

    def _comm_failed(self, exc: Exception) -> None:
        self.stats["comm_failures"] += 1
        if not self._comm_down:
            self._comm_down = True
            log.warning("%s: communication lost: %s", self.name, exc)
            self._update_health()
            self._post(DeviceFault(self.name, "communication", str(exc), locking=False))

    def _comm_ok(self) -> None:
        was_down, self._comm_down = self._comm_down, False
        self._update_health()
        if was_down:
            log.info("%s: communication restored", self.name)
            self._inhibit_dirty = True  # the device may have been swapped or re-powered
            self._post(DeviceFaultCleared(self.name, "communication"))

    def _update_health(self) -> None:
        if self._comm_down:
            self._health = Health(HealthState.FAULT, "coin acceptor not answering")
        elif self._faults:
            self._health = Health(HealthState.DEGRADED, "; ".join(self._faults.values()))
        else:
            self._health = Health(HealthState.OK)

    # ------------------------------------------------------------ commands
    def _apply_inhibit(self) -> None:
        chans = self.channels.values.items()
        enabled = sorted(c for c, v in chans if v in self._desired and 0 < c <= p.MAX_COIN_CHANNEL)
        if enabled:
            self._transact(p.HDR_MODIFY_INHIBIT_STATUS, p.inhibit_mask(enabled))
            self._transact(p.HDR_MODIFY_MASTER_INHIBIT_STATUS, b"\x01")
        else:
            self._transact(p.HDR_MODIFY_MASTER_INHIBIT_STATUS, b"\x00")
            self._transact(p.HDR_MODIFY_INHIBIT_STATUS, b"\x00\x00")
        self._inhibit_dirty = False
        log.info("%s: accepting channels %s", self.name, enabled or "none")

    def _identify(self) -> CoinAcceptorIdentity:
        return p.parse_identity({h: self._transact(h).data for h in p.IDENTITY_HEADERS})

    # ------------------------------------------------------------ link
    def _transact(self, header: int, data: bytes = b"", data_len: int | None = None) -> p.Frame:
        raw = p.encode_frame(p.Frame(self.address, header, data, self.host), self.mode)
        last: Exception | None = None
        for attempt in range(self.retries):
            if attempt:
                self.stats["retries"] += 1
            try:
                reply = self._exchange(raw, data_len)
            except (FrameError, LinkTimeout) as exc:
                last = exc
                self._drain_quiet()
                continue
            except (serial.SerialException, OSError) as exc:
                self.stats["port_errors"] += 1
                last = PortError(str(exc))
                self._stop.wait(self.reply_timeout)
                continue
            if reply.header == p.HDR_BUSY:
                self.stats["busy"] += 1
                last = LinkTimeout("device busy")
                self._stop.wait(INTER_BYTE_TIMEOUT)
                continue
            if reply.header == p.HDR_NAK:
                self.stats["nak"] += 1
                raise CommandRefused(f"header {header} refused (NAK)")
            return reply
        raise LinkTimeout(f"header {header}: no valid reply in {self.retries} tries ({last})")

    def _exchange(self, raw: bytes, data_len: int | None) -> p.Frame:
        port = self.port
        if stray := port.in_waiting:  # noise since the last exchange: count it, never parse it
            self.stats["stray_bytes"] += stray
            port.reset_input_buffer()
        port.write(raw)
        self.stats["tx"] += 1
        # Single wire: our own bytes come back first; a difference means a collision or noise.
        echo = self._read_exact(len(raw), self.reply_timeout + len(raw) * self._byte_time)
        if len(echo) < len(raw) and echo == raw[: len(echo)]:
            self.stats["no_echo"] += 1
            raise LinkTimeout(f"echo incomplete ({len(echo)}/{len(raw)} bytes)")
        if echo != raw:
            self.stats["echo_mismatch"] += 1
            raise FrameError("echo differs from what was sent")
        head = self._read_exact(2, self.reply_timeout)
        if not head:
            self.stats["timeouts"] += 1
            raise LinkTimeout("no reply")
        if len(head) < 2 or head[1] > p.MAX_DATA:
            self.stats["truncated" if len(head) < 2 else "bad_frames"] += 1
            raise FrameError("no valid reply header")
        rest_len = p.frame_size(head[1]) - 2
        rest = self._read_exact(rest_len, INTER_BYTE_TIMEOUT + rest_len * self._byte_time * 1.5)
        if len(rest) < rest_len:
            self.stats["truncated"] += 1
            raise FrameError("reply truncated")
        try:
            reply = p.decode_reply(head + rest, self.mode, self.host, self.address, data_len)
        except FrameError:
            self.stats["bad_frames"] += 1
            raise
        if port.in_waiting:
            # Bytes right behind a reply mean we may have framed on garbage: do not trust it.
            self.stats["trailing_garbage"] += 1
            raise FrameError("bytes after the reply")
        self.stats["rx_ok"] += 1
        return reply

    def _read_exact(self, n: int, within: float) -> bytes:
        deadline = time.monotonic() + within
        buf = bytearray()
        while len(buf) < n and time.monotonic() < deadline:
            buf += self.port.read(n - len(buf))
        return bytes(buf)

    def _drain_quiet(self) -> None:
        # After a failed try wait for a quiet line: a late reply must not pass for the next echo.
        deadline = time.monotonic() + self.reply_timeout
        try:
            while time.monotonic() < deadline and not self._stop.wait(INTER_BYTE_TIMEOUT):
                if not (waiting := self.port.in_waiting):
                    return
                self.stats["drained_bytes"] += len(self.port.read(waiting))
        except (serial.SerialException, OSError):
            self.stats["port_errors"] += 1
