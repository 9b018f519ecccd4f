"""ccTalk coin acceptor driver: one poll thread owns the port, reads the header 229 credit buffer
and posts each new coin once; commands from other threads go through a queue."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import serial

from drivers.coin_acceptor.cctalk import protocol as p
from drivers.errors import DriverError, FrameError, LinkTimeout, PortError
from drivers.interfaces import (
    ChannelMap,
    CoinCredited,
    DeviceEvent,
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

#: Part 1: a receiver drops a partial message after 50 ms of silence; we wait as long for quiet.
INTER_BYTE_TIMEOUT = 0.05
SELF_CHECK_INTERVAL = 1.0


class CommandRefused(DriverError):
    """The device answered NAK: it understood the frame and refused the command."""


@dataclass(frozen=True)
class CoinAcceptorIdentity:
    manufacturer: str
    product: str
    serial: int
    software: str


class _Request:
    def __init__(self, kind: str, arg: Any = None) -> None:
        self.kind = kind
        self.arg = arg
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


_STOP = _Request("stop")

_STAT_KEYS = (
    "tx", "rx_ok", "timeouts", "no_echo", "echo_mismatch", "bad_frames", "truncated",
    "trailing_garbage", "stray_bytes", "drained_bytes", "retries", "nak", "busy",
    "port_errors", "comm_failures", "credits", "events_lost",
)


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
    ) -> None:
        if checksum not in p.MODES:
            raise ValueError(f"checksum must be one of {p.MODES}, not {checksum!r}")
        if retries < 1:
            raise ValueError("retries must be at least 1")
        self.name = name
        self.port = port
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
        self._post: Post | None = None
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

    def _guarded(self, action: Any, *args: Any) -> None:
        try:
            action(*args)
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
            elif req.kind == "identify":
                try:
                    req.result = self._identify()
                except LinkTimeout as exc:
                    req.error = exc
                    self._comm_failed(exc)
                except DriverError as exc:
                    req.error = exc
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
        while True:
            try:
                req = self._requests.get_nowait()
            except queue.Empty:
                break
            req.error = DriverError(f"{self.name}: driver stopped")
            req.done.set()
        self._health = Health(HealthState.UNKNOWN, "stopped")

    # ------------------------------------------------------------ events
    def _emit(self, event: DeviceEvent) -> None:
        if self._post is not None:
            self._post(event)

    def _handle_buffer(self, buf: p.CreditBuffer) -> None:
        res = self._tracker.update(buf)
        if res.reset:
            level = logging.INFO if res.previous is None else logging.WARNING
            log.log(level, "%s: event counter 0 (was %s): device powered up or reset", self.name,
                    res.previous)
            self._inhibit_dirty = True  # a reset device comes up inhibited
            self._emit(PowerUp(self.name, "normal"))
        if res.first_sync:
            log.info("%s: event counter baseline %d", self.name, buf.counter)
            self._emit(DeviceStatus(self.name, "synced", f"event counter {buf.counter}"))
        if res.lost:
            self.stats["events_lost"] += res.lost
            detail = (
                f"event counter jumped from {res.previous} to {buf.counter}: {res.lost} events "
                f"fell out of the {p.BUFFER_PAIRS}-entry buffer unread"
            )
            log.error("%s: %s", self.name, detail)
            self._emit(EventsLost(self.name, res.lost, detail))
        for ev in res.new:
            self._handle_event(ev)

    def _handle_event(self, ev: p.BufferedEvent) -> None:
        if ev.is_credit:
            value = self.channels.value(ev.result_a)
            if value is None:
                detail = f"coin on channel {ev.result_a} (event {ev.counter}) has no configured value"
                log.error("%s: %s", self.name, detail)
                self._emit(EventsLost(self.name, 1, detail))
                return
            self.stats["credits"] += 1
            log.info("%s: coin %d fen, channel %d, event %d", self.name, value, ev.result_a,
                     ev.counter)
            self._emit(CoinCredited(self.name, value, ev.result_a, ev.counter))
            return
        code = ev.result_b
        if code == 0:  # null event
            return
        text, kind = p.describe_error(code)
        detail = f"{text} (code {code}, event {ev.counter})"
        if kind == "fault":
            slug = p.error_slug(code)
            self._faults[slug] = text
            self._next_self_check = time.monotonic() + SELF_CHECK_INTERVAL
            log.warning("%s: fault %s", self.name, detail)
            self._update_health()
            self._emit(DeviceFault(self.name, slug, detail, locking=False))
        elif kind in ("reject", "fraud"):
            state = "coin_rejected" if kind == "reject" else "coin_rejected_suspicious"
            self._emit(DeviceStatus(self.name, state, detail))
        else:
            self._emit(DeviceStatus(self.name, "alarm", detail))

    def _self_check(self) -> None:
        self._next_self_check = time.monotonic() + SELF_CHECK_INTERVAL
        reply = self._transact(p.HDR_PERFORM_SELF_CHECK)
        if reply.data and reply.data[0] != p.FAULT_OK:
            return
        for slug in list(self._faults):
            del self._faults[slug]
            log.info("%s: fault %s cleared (self-check OK)", self.name, slug)
            self._emit(DeviceFaultCleared(self.name, slug))
        self._update_health()

    def _comm_failed(self, exc: Exception) -> None:
        self.stats["comm_failures"] += 1
        if not self._comm_down:
            self._comm_down = True
            log.warning("%s: communication lost: %s", self.name, exc)
            self._update_health()
            pass

    def _comm_ok(self) -> None:
        if self._comm_down or self._health.state == HealthState.UNKNOWN:
            was_down = self._comm_down
            self._comm_down = False
            self._update_health()
            if was_down:
                log.info("%s: communication restored", self.name)
                self._inhibit_dirty = True  # the device may have been swapped or re-powered
                self._emit(DeviceFaultCleared(self.name, "communication"))

    def _update_health(self) -> None:
        if self._comm_down:
            self._health = Health(HealthState.FAULT, "coin acceptor not answering")
        elif self._faults:
            self._health = Health(HealthState.DEGRADED, "; ".join(self._faults.values()))
        else:
            self._health = Health(HealthState.OK)

    # ------------------------------------------------------------ commands
    def _apply_inhibit(self) -> None:
        enabled = sorted(
            ch for ch, v in self.channels.values.items()
            if v in self._desired and 1 <= ch <= p.MAX_COIN_CHANNEL
        )
        if enabled:
            self._transact(p.HDR_MODIFY_INHIBIT_STATUS, p.inhibit_mask(enabled))
            self._transact(p.HDR_MODIFY_MASTER_INHIBIT_STATUS, b"\x01")
        else:
            self._transact(p.HDR_MODIFY_MASTER_INHIBIT_STATUS, b"\x00")
            self._transact(p.HDR_MODIFY_INHIBIT_STATUS, b"\x00\x00")
        self._inhibit_dirty = False
        log.info("%s: accepting channels %s", self.name, enabled or "none")

    def _identify(self) -> CoinAcceptorIdentity:
        def text(header: int) -> str:
            return self._transact(header).data.decode("ascii", "replace").strip()

        serial_bytes = self._transact(p.HDR_REQUEST_SERIAL_NUMBER).data
        return CoinAcceptorIdentity(
            manufacturer=text(p.HDR_REQUEST_MANUFACTURER_ID),
            product=text(p.HDR_REQUEST_PRODUCT_CODE),
            serial=int.from_bytes(serial_bytes, "little"),  # Part 3, header 242: LSB first
            software=text(p.HDR_REQUEST_SOFTWARE_REVISION),
        )

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
        stray = port.in_waiting
        if stray:
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
        """After a failed exchange wait until the line is quiet, so a late reply cannot be taken
        for the echo or answer of the next try."""
        deadline = time.monotonic() + self.reply_timeout
        quiet_since = time.monotonic()
        try:
            while time.monotonic() < deadline:
                chunk = self.port.read(max(1, self.port.in_waiting))
                now = time.monotonic()
                if chunk:
                    self.stats["drained_bytes"] += len(chunk)
                    quiet_since = now
                elif now - quiet_since >= INTER_BYTE_TIMEOUT:
                    return
        except (serial.SerialException, OSError):
            self.stats["port_errors"] += 1
