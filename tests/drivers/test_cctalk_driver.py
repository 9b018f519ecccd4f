"""ccTalk driver against the simulator over a real pty pair: credits, event counter, inhibits,
mechanism faults.  Shared rig helpers (also used by test_cctalk_link)."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.coin_acceptor.cctalk import protocol as p
from drivers.coin_acceptor.cctalk.driver import CcTalkDriver
from drivers.coin_acceptor.cctalk.simulator import DEFAULT_CHANNELS, CcTalkSimulator
from drivers.interfaces import (
    CoinCredited,
    DeviceEvent,
    DeviceFault,
    DeviceFaultCleared,
    DeviceStatus,
    EventsLost,
    HealthState,
    PowerUp,
)
from drivers.transport import LineSettings, open_port
from tests.conftest import wait_until
from tests.drivers.collect import CollectsEvents

ALL = frozenset({10, 50, 100})


class Rig(CollectsEvents):
    def __init__(self, sim: CcTalkSimulator, **driver_kw: Any) -> None:
        self.sim = sim
        self.port = open_port(sim.start_on_pty(), LineSettings())
        self.q: queue.Queue[DeviceEvent] = queue.Queue()
        self.seen: list[DeviceEvent] = []
        self.driver_kw = {"poll_interval": 0.03, "reply_timeout": 0.15, **driver_kw}
        self.driver: CcTalkDriver | None = None

    def start(self, **kw: Any) -> CcTalkDriver:
        channels = kw.pop("channels", DEFAULT_CHANNELS)
        self.driver = CcTalkDriver("coin", self.port, channels, **{**self.driver_kw, **kw})
        self.driver.start(self.q.put)
        wait_until(lambda: self.driver.last_event_counter is not None, what="first poll")
        return self.driver

    def stop_driver(self) -> None:
        if self.driver is not None:
            self.driver.stop()
            self.driver = None

    def polls(self) -> int:
        return sum(1 for _, h in list(self.sim.request_log) if h == p.HDR_READ_BUFFERED_CREDIT)

    def settle(self, n: int = 4) -> None:
        """Let the driver read the credit buffer n more times, then collect what it posted."""
        # The driver posts a reading's events before it sends the next poll: one poll more
        # than n means the n-th reading's events are in the queue.
        target = self.polls() + n + 1
        wait_until(lambda: self.polls() >= target, what=f"{n} more polls")
        while True:
            try:
                self.seen.append(self.q.get_nowait())
            except queue.Empty:
                return

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.seen if isinstance(e, cls)]

    def enable(self, values: frozenset[int] = ALL) -> None:
        assert self.driver is not None
        self.driver.enable(values)
        want = {ch for ch, v in DEFAULT_CHANNELS.values.items() if v in values}
        wait_until(
            lambda: self.sim.master_enabled and self.sim.enabled_channels == want,
            what="inhibits applied",
        )

    def close(self) -> None:
        self.stop_driver()
        self.port.close()
        self.sim.stop()


def rig_factory(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Body of the ``make_rig`` fixture (shared with test_cctalk_link)."""
    rigs: list[Rig] = []

    def make(sim: CcTalkSimulator | None = None, **driver_kw: Any) -> Rig:
        rig = Rig(sim or CcTalkSimulator(state_path=tmp_path / "coin.json"), **driver_kw)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    yield from rig_factory(tmp_path)


def credits(rig: Rig) -> list[tuple[int, int]]:
    return [(e.value_minor, e.event_counter) for e in rig.of(CoinCredited)]


# ---------------------------------------------------------------- credits
def test_each_coin_credited_exactly_once(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.enable()
    for value in (10, 50, 100):
        rig.sim.command(f"coin {value}")
        rig.wait_for(lambda e, v=value: isinstance(e, CoinCredited) and e.value_minor == v)
    rig.settle(5)
    assert credits(rig) == [(10, 1), (50, 2), (100, 3)]
    assert rig.driver.stats["credits"] == 3


def test_several_coins_between_polls(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.enable()
    before = rig.polls()
    rig.sim.command("coin 50 10 100 10 50")  # five coins in one go, no poll in between
    rig.settle(3)
    assert rig.polls() > before
    assert credits(rig) == [(50, 1), (10, 2), (100, 3), (10, 4), (50, 5)]
    assert not rig.of(EventsLost)


def test_counter_wraps_from_255_to_1(make_rig, tmp_path: Path) -> None:
    sim = CcTalkSimulator(state_path=tmp_path / "coin.json")
    sim.counter = 253
    rig = make_rig(sim)
    rig.start()
    assert rig.driver.last_event_counter == 253
    rig.enable()
    rig.sim.command("coin 10 50")
    rig.settle(2)
    rig.sim.command("coin 100 10")
    rig.settle(3)
    assert credits(rig) == [(10, 254), (50, 255), (100, 1), (10, 2)]
    assert not rig.of(EventsLost) and not rig.of(PowerUp)


def test_gap_over_five_is_lost_events_never_credit(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.enable()
    rig.sim.command("coin 10")
    rig.wait_for(lambda e: isinstance(e, CoinCredited))
    rig.sim.command("lose 8")
    lost = rig.wait_for(lambda e: isinstance(e, EventsLost))
    assert lost.count == 3 and "from 1 to 9" in lost.detail
    rig.sim.command("coin 50")
    rig.settle(3)
    assert credits(rig) == [(10, 1), (50, 10)]
    assert len(rig.of(EventsLost)) == 1


def test_gap_of_five_or_less_is_handled(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.enable()
    rig.sim.command("lose 5")
    rig.settle(2)
    rig.sim.command("coin 100")
    rig.settle(2)
    assert credits(rig) == [(100, 6)]
    assert not rig.of(EventsLost)


def test_restart_with_remembered_counter_credits_buffered_coins(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.enable()
    rig.sim.command("coin 10")
    rig.wait_for(lambda e: isinstance(e, CoinCredited))
    last = rig.driver.last_event_counter
    rig.stop_driver()
    assert not rig.sim.master_enabled  # a stopped driver leaves the acceptor inhibited
    rig.sim.master_enabled = True  # the kiosk died with the acceptor enabled
    rig.sim.command("coin 50 100 10 50")
    rig.seen.clear()
    rig.start(last_event_counter=last)
    rig.settle(3)
    assert credits(rig) == [(50, 2), (100, 3), (10, 4), (50, 5)]
    assert not rig.of(EventsLost)


def test_restart_after_more_than_five_coins_credits_the_buffer_and_flags_the_rest(make_rig):
    rig = make_rig()
    rig.start()
    last = rig.driver.last_event_counter
    rig.stop_driver()
    rig.sim.master_enabled = True
    rig.sim.enabled_channels = frozenset({1, 2, 3})
    rig.sim.command("coin 100 100 10 10 50 50 50 10")  # 8 coins; the first three fall out
    rig.seen.clear()
    rig.start(last_event_counter=last)
    rig.settle(3)
    assert credits(rig) == [(10, 4), (50, 5), (50, 6), (50, 7), (10, 8)]
    [lost] = rig.of(EventsLost)
    assert lost.count == 3


def test_power_cycle_resyncs_and_reapplies_inhibits(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.enable()
    rig.sim.command("coin 10 50")
    rig.settle(2)
    rig.sim.command("power-cycle")
    rig.wait_for(lambda e: isinstance(e, PowerUp) and e.condition == "normal")
    wait_until(lambda: rig.sim.master_enabled, what="inhibits re-applied after power-up")
    rig.sim.command("coin 100")
    rig.settle(3)
    assert credits(rig) == [(10, 1), (50, 2), (100, 1)]
    assert not rig.of(EventsLost)


def test_inhibited_coins_are_rejected_not_credited(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.settle(2)
    assert not rig.sim.master_enabled  # the driver starts with the acceptor inhibited
    answer = rig.sim.command("coin 100")
    assert "inhibited" in answer
    ev = rig.wait_for(lambda e: isinstance(e, DeviceStatus) and e.state == "coin_rejected")
    assert "inhibited coin" in ev.detail
    rig.enable(frozenset({10}))  # only 10 fen: channel 2 (50) stays inhibited
    rig.sim.command("coin 50 10")
    rig.settle(3)
    assert credits(rig) == [(10, 3)]
    assert len([e for e in rig.of(DeviceStatus) if e.state == "coin_rejected"]) == 2
    rig.driver.disable()
    wait_until(lambda: not rig.sim.master_enabled, what="disabled")


def test_coin_on_unconfigured_channel_is_flagged_not_guessed(make_rig, tmp_path: Path) -> None:
    sim = CcTalkSimulator(
        state_path=tmp_path / "coin.json", channels={1: 10, 2: 50, 3: 100, 4: 200}
    )
    rig = make_rig(sim)
    rig.start()
    rig.driver.enable(frozenset({10}))
    wait_until(lambda: rig.sim.master_enabled)
    rig.sim.enabled_channels = frozenset({1, 4})  # the device accepts more than we know
    rig.sim.command("coin 200")
    lost = rig.wait_for(lambda e: isinstance(e, EventsLost))
    assert lost.count == 1 and "channel 4" in lost.detail
    assert not rig.of(CoinCredited)


def test_crc16_mode_end_to_end(make_rig, tmp_path: Path) -> None:
    rig = make_rig(
        CcTalkSimulator(state_path=tmp_path / "coin.json", checksum="crc16"), checksum="crc16"
    )
    rig.start()
    rig.enable()
    rig.sim.command("coin 50 100")
    rig.settle(3)
    assert credits(rig) == [(50, 1), (100, 2)]
    assert rig.driver.stats["bad_frames"] == 0
    assert rig.driver.identify().product == "SIMCOIN"


def test_checksum_mode_mismatch_is_a_comm_fault_never_a_credit(make_rig, tmp_path: Path) -> None:
    sim = CcTalkSimulator(state_path=tmp_path / "coin.json", checksum="crc16")
    sim.master_enabled, sim.enabled_channels = True, frozenset({1, 2, 3})
    sim.command("coin 100")
    rig = make_rig(sim, retries=2, reply_timeout=0.05)
    rig.driver = CcTalkDriver(
        "coin", rig.port, DEFAULT_CHANNELS, checksum="simple", **rig.driver_kw
    )
    rig.driver.start(rig.q.put)
    rig.wait_for(lambda e: isinstance(e, DeviceFault) and e.code == "communication")
    assert rig.driver.health().state == HealthState.FAULT
    assert not rig.of(CoinCredited)


# ---------------------------------------------------------------- mechanism faults
def test_jam_is_a_non_locking_fault_until_self_check_clears(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.enable()
    rig.sim.command("jam")
    fault = rig.wait_for(lambda e: isinstance(e, DeviceFault))
    assert fault.code == "credit_sensor_blocked" and fault.locking is False
    assert rig.driver.health().state == HealthState.DEGRADED
    assert "not taken" in rig.sim.command("coin 10")
    rig.sim.command("clear")
    rig.wait_for(lambda e: isinstance(e, DeviceFaultCleared), timeout=4)
    assert rig.driver.health().state == HealthState.OK
    rig.sim.command("coin 10")
    rig.settle(3)
    assert credits(rig) == [(10, 2)]


def test_reject_is_a_status_not_a_fault(make_rig) -> None:
    rig = make_rig()
    rig.start()
    rig.sim.command("reject")
    ev = rig.wait_for(lambda e: isinstance(e, DeviceStatus) and e.state == "coin_rejected")
    assert "reject coin" in ev.detail
    assert rig.driver.health().state == HealthState.OK
