"""ccTalk driver link behaviour over a real pty: lost and slow replies, echo, garbage and noise,
requests from other threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.coin_acceptor.cctalk import protocol as p
from drivers.coin_acceptor.cctalk.driver import CcTalkDriver
from drivers.coin_acceptor.cctalk.simulator import DEFAULT_CHANNELS, CcTalkSimulator
from drivers.errors import DriverError
from drivers.interfaces import (
    ChannelMap,
    CoinCredited,
    DeviceFault,
    DeviceFaultCleared,
    EventsLost,
    HealthState,
)
from tests.drivers.test_cctalk_driver import Rig, credits, rig_factory, wait_until


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    yield from rig_factory(tmp_path)


# ---------------------------------------------------------------- link faults
def test_dropped_replies_fault_then_recover(make_rig) -> None:
    rig = make_rig(retries=2, reply_timeout=0.08)
    rig.start()
    rig.enable()
    assert rig.driver.health().state == HealthState.OK
    rig.sim.command("drop 6")
    fault = rig.wait_for(lambda e: isinstance(e, DeviceFault))
    assert fault.code == "communication" and fault.locking is False
    assert rig.driver.health().state == HealthState.FAULT
    rig.wait_for(lambda e: isinstance(e, DeviceFaultCleared) and e.code == "communication")
    assert rig.driver.health().state == HealthState.OK
    assert rig.driver.stats["timeouts"] >= 6
    rig.sim.command("coin 10")
    rig.settle(3)
    assert credits(rig) == [(10, 1)]


def test_slow_replies_within_timeout_are_fine(make_rig) -> None:
    rig = make_rig(reply_timeout=0.3)
    rig.start()
    rig.enable()
    rig.sim.command("delay 60")
    rig.sim.command("coin 100")
    rig.settle(3)
    assert credits(rig) == [(100, 1)]
    assert not rig.of(DeviceFault)


def test_echo_is_checked(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.enable()
    rig.sim.corrupt_echo = 2
    rig.sim.command("coin 50")
    rig.settle(4)
    assert rig.driver.stats["echo_mismatch"] == 2
    assert credits(rig) == [(50, 1)]
    assert not rig.of(DeviceFault)


class NoEchoSimulator(CcTalkSimulator):
    """A two-wire adapter (or a broken bus): the host never hears itself."""

    def inject(self, data: bytes) -> None:
        pass


def test_missing_echo_is_a_comm_fault(make_rig, tmp_path: Path) -> None:
    rig = make_rig(
        NoEchoSimulator(state_path=tmp_path / "coin.json"), retries=2, reply_timeout=0.05
    )
    rig.driver = CcTalkDriver("coin", rig.port, DEFAULT_CHANNELS, **rig.driver_kw)
    rig.driver.start(rig.q.put)
    rig.wait_for(lambda e: isinstance(e, DeviceFault) and e.code == "communication")
    assert rig.driver.stats["no_echo"] + rig.driver.stats["echo_mismatch"] >= 2
    assert rig.driver.last_event_counter is None


class GarbageBeforeReply(CcTalkSimulator):
    """Puts junk between the echo and the next ``garbage_replies`` credit-buffer answers."""

    garbage_replies = 0

    def _answer(self, frame: p.Frame) -> bytes:
        reply = super()._answer(frame)
        if frame.header == p.HDR_READ_BUFFERED_CREDIT and self.garbage_replies > 0:
            self.garbage_replies -= 1
            return b"\x00" + reply  # a leading 0x00 even keeps the simple checksum at zero
        return reply


def test_garbage_before_a_reply_never_alters_a_credit(make_rig, tmp_path: Path) -> None:
    sim = GarbageBeforeReply(state_path=tmp_path / "coin.json")
    rig = make_rig(sim)
    rig.start()
    rig.enable()
    sim.command("coin 100 10")
    sim.garbage_replies = 2
    rig.settle(4)
    assert credits(rig) == [(100, 1), (10, 2)]
    assert rig.driver.stats["bad_frames"] + rig.driver.stats["trailing_garbage"] >= 2


class ForgedFrameBeforeReply(CcTalkSimulator):
    """Glues a complete, valid credit-buffer reply claiming a 100 fen coin in front of the next
    real answer: only the bytes behind it give the forgery away."""

    forged_replies = 0

    def _answer(self, frame: p.Frame) -> bytes:
        reply = super()._answer(frame)
        if frame.header == p.HDR_READ_BUFFERED_CREDIT and self.forged_replies > 0:
            self.forged_replies -= 1
            fake = p.CreditBuffer(p.next_counter(self.counter), ((3, 1),) + tuple(self.buffer[:4]))
            return self._reply(p.HDR_ACK, p.encode_credit_buffer(fake)) + reply
        return reply


def test_a_valid_frame_with_bytes_behind_it_is_not_trusted(make_rig, tmp_path: Path) -> None:
    sim = ForgedFrameBeforeReply(state_path=tmp_path / "coin.json")
    rig = make_rig(sim)
    rig.start()
    rig.enable()
    sim.forged_replies = 2
    wait_until(lambda: sim.forged_replies == 0, what="forged replies sent")
    rig.settle(3)
    assert rig.driver.stats["trailing_garbage"] >= 2
    assert not rig.of(CoinCredited)


def test_noise_between_polls_is_counted_and_harmless(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.enable()
    # A credit-buffer look-alike arriving between polls: it must be counted and thrown away.
    for _ in range(5):  # noise can land inside an exchange (then it is an echo error): retry
        rig.sim.command("noise 01 0b 02 00 05 01 01 00 00 00 00 00 00 00 00 eb")
        rig.settle(2)
        if rig.driver.stats["stray_bytes"]:
            break
    assert rig.driver.stats["stray_bytes"] >= 16
    assert not rig.of(CoinCredited) and not rig.of(EventsLost) and not rig.of(DeviceFault)


# ---------------------------------------------------------------- other threads
def test_identify_from_another_thread(make_rig) -> None:
    rig = make_rig()
    rig.start()
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(rig.driver.identify())) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(results) == 3
    ident = results[0]
    assert (ident.manufacturer, ident.product, ident.software) == ("CPT", "SIMCOIN", "SIM-1.0")
    assert ident.serial == rig.sim.serial


def test_identify_times_out_when_the_device_is_silent(make_rig) -> None:
    rig = make_rig(retries=1, reply_timeout=0.05)
    rig.start()
    rig.sim.drop_replies = 1000
    with pytest.raises(DriverError):
        rig.driver.identify(timeout=1.0)
    rig.sim.drop_replies = 0


def test_identify_needs_a_running_driver(make_rig) -> None:
    rig = make_rig()
    drv = CcTalkDriver("coin", rig.port, DEFAULT_CHANNELS)
    with pytest.raises(DriverError):
        drv.identify()
    assert drv.health().state == HealthState.UNKNOWN


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError):
        CcTalkDriver("coin", None, ChannelMap(), checksum="xor")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CcTalkDriver("coin", None, ChannelMap(), retries=0)  # type: ignore[arg-type]
