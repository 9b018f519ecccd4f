"""EM4100 driver against the simulator over a real pty pair: present, remove, swap, noise,
unplug, lost port."""

from __future__ import annotations

import logging
import queue
import time
from pathlib import Path
from typing import Any

import pytest

from drivers.card_reader.em4100.driver import Em4100Driver
from drivers.card_reader.em4100.simulator import Em4100Simulator
from drivers.interfaces import (
    CardPresented,
    CardRemoved,
    DeviceEvent,
    DeviceFault,
    HealthState,
)
from drivers.transport import LineSettings, open_port
from tests.conftest import wait_until
from tests.drivers.collect import CollectsEvents

CARD_A = "67003B51C6"
CARD_B = "0A12345678"


class StampingSim(Em4100Simulator):
    """Notes when it last sent a frame (monotonic clock, the one the driver times removal on)."""

    last_frame_at: float | None = None

    def on_tick(self) -> bytes:
        frame = super().on_tick()
        if frame:
            self.last_frame_at = time.monotonic()  # before the write: the frame is no earlier
        return frame


class Rig(CollectsEvents):
    def __init__(self, tmp_path: Path, removal_timeout: float = 0.5) -> None:
        self.sim = StampingSim(state_path=tmp_path / "card.json", repeat_interval=0.05)
        self.port = open_port(self.sim.start_on_pty(), LineSettings())
        self.q: queue.Queue[DeviceEvent] = queue.Queue()
        self.seen: list[DeviceEvent] = []
        self.driver = Em4100Driver("card", self.port, removal_timeout=removal_timeout)
        self.driver.start(self.q.put)

    def wait_reads(self, uid: str, n: int) -> None:
        target = self.sim.reads.get(uid, 0) + n
        wait_until(lambda: self.sim.reads.get(uid, 0) >= target, what=f"{n} frames of card")
        wait_until(lambda: self.driver.stats["frames"] >= 1)

    def drain(self) -> list[DeviceEvent]:
        while True:
            try:
                self.seen.append(self.q.get_nowait())
            except queue.Empty:
                return self.seen

    def kinds(self) -> list[tuple[str, str]]:
        return [(type(e).__name__, getattr(e, "card_uid", "")) for e in self.drain()]

    def close(self) -> None:
        self.driver.stop()
        self.port.close()
        self.sim.stop()


@pytest.fixture
def rig(tmp_path: Path):
    r = Rig(tmp_path)
    yield r
    r.close()


def test_repeated_frames_are_one_presentation(rig: Rig) -> None:
    assert rig.driver.health().state == HealthState.OK
    rig.sim.command(f"present {CARD_A}")
    ev = rig.wait_for(lambda e: isinstance(e, CardPresented))
    assert ev.card_uid == CARD_A
    rig.wait_reads(CARD_A, 8)
    assert rig.kinds() == [("CardPresented", CARD_A)]
    assert rig.driver.current_card == CARD_A
    assert rig.driver.stats["frames"] >= 8


def test_removal_is_one_event_after_the_timeout(rig: Rig) -> None:
    rig.sim.command(f"present {CARD_A}")
    rig.wait_for(lambda e: isinstance(e, CardPresented))
    rig.wait_reads(CARD_A, 3)
    rig.sim.command("remove")  # under the simulator's lock: no frame follows once it returns
    last_frame_at = rig.sim.last_frame_at
    ev = rig.wait_for(lambda e: isinstance(e, CardRemoved))
    # The driver read the last frame after it was sent and waits removal_timeout from there;
    # a busy machine can only make the gap longer, so only the lower bound is checked.
    assert time.monotonic() - last_frame_at >= rig.driver.removal_timeout
    assert ev.card_uid == CARD_A
    assert rig.driver.current_card is None
    # An empty field for longer than the removal timeout is part of the scene (no ordering rests
    # on it); the next card's arrival then shows everything the driver posted in between.
    time.sleep(rig.driver.removal_timeout * 1.5)
    rig.sim.command(f"present {CARD_B}")
    rig.wait_for(lambda e: isinstance(e, CardPresented) and e.card_uid == CARD_B)
    assert rig.kinds() == [
        ("CardPresented", CARD_A),
        ("CardRemoved", CARD_A),
        ("CardPresented", CARD_B),
    ]


def test_card_swap_is_removed_then_presented(rig: Rig) -> None:
    rig.sim.command(f"present {CARD_A}")
    rig.wait_reads(CARD_A, 3)
    rig.sim.command(f"present {CARD_B}")  # straight to another card, no gap
    rig.wait_for(lambda e: isinstance(e, CardPresented) and e.card_uid == CARD_B)
    rig.wait_reads(CARD_B, 3)
    assert rig.kinds() == [
        ("CardPresented", CARD_A),
        ("CardRemoved", CARD_A),
        ("CardPresented", CARD_B),
    ]


def test_noise_without_a_card_is_counted_and_makes_no_event(rig: Rig) -> None:
    rig.sim.command("noise 02 41 42 43 ff 00 03 0d 0a 02 30 31")
    rig.sim.command("noise " + b"\x0267003B51C6CA\x03".hex())  # checksum off by one
    wait_until(lambda: rig.driver.stats["bad_checksum"] >= 1, what="bad checksum counted")
    stats = rig.driver.stats
    assert stats["malformed"] + stats["garbage_bytes"] > 0
    assert rig.kinds() == []


def test_noise_while_a_card_is_present_does_not_flap(rig: Rig) -> None:
    rig.sim.command(f"present {CARD_A}")
    rig.wait_for(lambda e: isinstance(e, CardPresented))
    for _ in range(5):
        rig.sim.command("noise 02 39 39 ff")
        rig.wait_reads(CARD_A, 1)
    rig.wait_reads(CARD_A, 3)
    assert rig.kinds() == [("CardPresented", CARD_A)]


def test_unplug_removes_the_card_and_plug_presents_it_again(rig: Rig) -> None:
    rig.sim.command(f"present {CARD_A}")
    rig.wait_for(lambda e: isinstance(e, CardPresented))
    rig.sim.command("unplug")
    rig.wait_for(lambda e: isinstance(e, CardRemoved))
    rig.sim.command("plug")
    rig.wait_for(lambda e: isinstance(e, CardPresented))
    assert rig.kinds() == [
        ("CardPresented", CARD_A),
        ("CardRemoved", CARD_A),
        ("CardPresented", CARD_A),
    ]


def test_card_ids_are_masked_in_logs(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        rig.sim.command(f"present {CARD_A}")
        rig.wait_for(lambda e: isinstance(e, CardPresented))
        rig.sim.command("remove")
        rig.wait_for(lambda e: isinstance(e, CardRemoved))
    text = caplog.text
    assert "51C6" in text
    assert CARD_A not in text


def test_lost_port_is_a_fault_and_removes_the_card(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    try:
        r.sim.command(f"present {CARD_A}")
        r.wait_for(lambda e: isinstance(e, CardPresented))
        r.sim.stop()  # the pty goes away under the driver, like a pulled USB adapter
        fault: Any = r.wait_for(lambda e: isinstance(e, DeviceFault))
        assert fault.code == "port" and fault.locking is False
        assert r.driver.health().state == HealthState.FAULT
        assert ("CardRemoved", CARD_A) in r.kinds()
    finally:
        r.driver.stop()
        r.port.close()


def test_bad_removal_timeout(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Em4100Driver("card", None, removal_timeout=0)  # type: ignore[arg-type]
