"""PN532 driver against its simulator over a real pty: tap, hold (no repeat), remove, re-tap,
swap, power-up with a card on the reader, reader power cycle, noise; MIFARE Classic block read,
write and read-back, wrong key, card pulled mid-write at several byte offsets, refused blocks."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest

from drivers.card_reader.pn532 import protocol as p
from drivers.card_reader.pn532.driver import (
    AuthFailed,
    BlockRefused,
    CardRemovedError,
    Pn532Driver,
    TornWrite,
    WriteFailed,
    WriteInterrupted,
)
from drivers.card_reader.pn532.link import LINE_SETTINGS
from drivers.card_reader.pn532.simulator import Pn532Simulator
from drivers.interfaces import (
    CardPresented,
    CardRemoved,
    DeviceEvent,
    DeviceFault,
    DeviceFaultCleared,
    HealthState,
)
from drivers.transport import open_port
from tests.conftest import wait_until
from tests.drivers.collect import CollectsEvents

CARD_A = "1A2B3C4D"
CARD_B = "04A1B2C3D4E5F6"  # a 7-byte UID
KEY = b"\xff" * 6
NEW = bytes(range(0x10, 0x20))


class Rig(CollectsEvents):
    def __init__(self, tmp_path: Path, sim: Pn532Simulator | None = None) -> None:
        self.sim = sim or Pn532Simulator(state_path=tmp_path / "pn532.json")
        self.port = open_port(self.sim.start_on_pty(), LINE_SETTINGS)
        self.q: queue.Queue[DeviceEvent] = queue.Queue()
        self.seen: list[DeviceEvent] = []
        # Generous timeouts: a loaded machine is slow, not wrong.
        self.driver = Pn532Driver("card", self.port, poll_interval=0.02, ack_timeout=0.5,
                                  answer_timeout=1.0, retry_interval=0.05)
        self.driver.start(self.q.put)

    def drain(self) -> list[DeviceEvent]:
        while True:
            try:
                self.seen.append(self.q.get_nowait())
            except queue.Empty:
                return self.seen

    def card_events(self) -> list[tuple[str, str]]:
        return [(type(e).__name__, e.card_uid) for e in self.drain()
                if isinstance(e, (CardPresented, CardRemoved))]

    def polls(self, n: int) -> None:
        """Let ``n`` more InListPassiveTarget commands reach the reader."""
        target = self.sim.counters["lists"] + n
        wait_until(lambda: self.sim.counters["lists"] >= target, what=f"{n} more polls")

    def tap(self, uid: str) -> None:
        self.sim.command(f"present {uid}")
        self.wait_for(lambda e: isinstance(e, CardPresented) and e.card_uid == uid)

    def close(self) -> None:
        self.driver.stop()
        self.port.close()
        self.sim.stop()


@pytest.fixture
def rig(tmp_path: Path):
    r = Rig(tmp_path)
    yield r
    r.close()


def test_tap_hold_remove_retap(rig: Rig) -> None:
    wait_until(lambda: rig.driver.health().state == HealthState.OK, what="reader configured")
    assert str(rig.driver.firmware) == "PN532 firmware 1.6 support 0x07"
    assert rig.sim.sam_mode == p.SAM_NORMAL and rig.sim.max_passive_retries == 0x02
    rig.tap(CARD_A)
    rig.polls(10)  # the card stays on the reader: one tap however many polls see it
    assert rig.card_events() == [("CardPresented", CARD_A)]
    assert rig.driver.current_card == CARD_A
    rig.sim.command("remove")
    rig.wait_for(lambda e: isinstance(e, CardRemoved))
    assert rig.driver.current_card is None
    rig.polls(5)
    rig.tap(CARD_A)  # the same card again: a new tap
    assert rig.card_events() == [("CardPresented", CARD_A), ("CardRemoved", CARD_A),
                                 ("CardPresented", CARD_A)]


def test_swap_is_removed_then_presented(rig: Rig) -> None:
    rig.tap(CARD_A)
    rig.tap(CARD_B)
    rig.polls(3)
    assert rig.card_events() == [("CardPresented", CARD_A), ("CardRemoved", CARD_A),
                                 ("CardPresented", CARD_B)]


def test_power_up_with_a_card_on_the_reader(tmp_path: Path) -> None:
    first = Pn532Simulator(state_path=tmp_path / "pn532.json")
    first.present(CARD_A)
    # A new simulator on the same state file: the reader just switched on, asleep, with the
    # card lying on it.  The driver must wake it, configure it and post exactly one tap.
    sim = Pn532Simulator(state_path=tmp_path / "pn532.json")
    assert sim.asleep and sim.present_uid == CARD_A
    rig = Rig(tmp_path, sim)
    try:
        rig.wait_for(lambda e: isinstance(e, CardPresented) and e.card_uid == CARD_A)
        rig.polls(5)
        assert rig.card_events() == [("CardPresented", CARD_A)]
    finally:
        rig.close()


def test_reader_power_cycle_with_the_card_held_is_not_a_new_tap(rig: Rig) -> None:
    rig.tap(CARD_A)
    rig.sim.command("power-cycle")  # asleep, configuration lost
    rig.wait_for(lambda e: isinstance(e, DeviceFault) and e.code == "no_answer")
    assert rig.driver.health().state == HealthState.FAULT
    rig.wait_for(lambda e: isinstance(e, DeviceFaultCleared))
    assert rig.sim.max_passive_retries == 0x02  # woken and configured again
    rig.polls(5)
    assert rig.card_events() == [("CardPresented", CARD_A)]


def test_noise_corruption_and_drops_make_no_event(rig: Rig) -> None:
    rig.polls(2)
    # A fake InListPassiveTarget answer with a bad DCS, a wrong-direction frame, garbage.
    fake = bytearray(p.answer(0x4B, bytes.fromhex("0101000408041A2B3C4D")))
    fake[-2] ^= 0x01
    rig.sim.command("noise " + bytes(fake).hex() + p.command(0x4A, b"\x01\x00").hex() + "DEADBEEF")
    rig.sim.command("corrupt 2")
    rig.polls(5)
    rig.sim.command("drop 1")
    rig.polls(5)
    stats = rig.driver.all_stats()
    assert stats["bad_dcs"] >= 2 and stats["garbage_bytes"] >= 1
    assert stats["retries"] >= 1
    assert rig.card_events() == []
    rig.tap(CARD_A)  # resynchronised: the next real card is seen
    assert rig.card_events() == [("CardPresented", CARD_A)]


# ---------------------------------------------------------------- blocks
def test_write_read_back_and_read(rig: Rig) -> None:
    rig.tap(CARD_A)
    assert rig.driver.read_block(CARD_A, 4, KEY) == b"\x00" * 16
    rig.driver.write_block(CARD_A, 4, NEW, KEY, "A")
    assert rig.driver.read_block(CARD_A, 4, KEY, "B") == NEW
    assert rig.sim.command("block 4") == NEW.hex().upper()
    rig.tap(CARD_B)  # 7-byte UID: authentication takes its last four bytes
    rig.driver.write_block(CARD_B, 62, NEW[::-1], KEY)
    assert rig.driver.read_block(CARD_B, 62, KEY) == NEW[::-1]
    assert rig.card_events().count(("CardPresented", CARD_A)) == 1  # block work is no tap


def test_wrong_key_is_auth_failed(rig: Rig) -> None:
    rig.tap(CARD_A)
    key_a, key_b = bytes.fromhex("A0A1A2A3A4A5"), bytes.fromhex("B0B1B2B3B4B5")
    rig.sim.command(f"keys 1 {key_a.hex()} {key_b.hex()}")
    with pytest.raises(AuthFailed):
        rig.driver.read_block(CARD_A, 5, KEY)
    with pytest.raises(AuthFailed):
        rig.driver.write_block(CARD_A, 5, NEW, key_a, "B")  # key A offered as key B
    assert rig.sim.counters["writes"] == 0
    rig.driver.write_block(CARD_A, 5, NEW, key_b, "B")
    assert rig.driver.read_block(CARD_A, 5, key_a, "A") == NEW
    assert rig.driver.read_block(CARD_A, 8, KEY) == b"\x00" * 16  # other sectors keep theirs


def test_absent_card_is_card_removed(rig: Rig) -> None:
    with pytest.raises(CardRemovedError):
        rig.driver.read_block(CARD_A, 4, KEY)
    rig.tap(CARD_B)
    with pytest.raises(CardRemovedError):
        rig.driver.write_block(CARD_A, 4, NEW, KEY)  # another card is on the reader
    assert rig.sim.counters["writes"] == 0


@pytest.mark.parametrize("block", [0, 3, 7, 11, 63])
def test_block_zero_and_trailers_are_never_written(rig: Rig, block: int) -> None:
    rig.tap(CARD_A)
    before = rig.sim.card.blocks[block]
    with pytest.raises(BlockRefused):
        rig.driver.write_block(CARD_A, block, NEW, KEY)
    # Refused before anything went out: not even the authentication reached the card.
    assert rig.sim.counters["auths"] == 0 and rig.sim.counters["writes"] == 0
    assert rig.sim.card.blocks[block] == before


@pytest.mark.parametrize("n", [0, 1, 8, 15, 16])
def test_card_pulled_mid_write(rig: Rig, n: int) -> None:
    rig.tap(CARD_A)
    old = bytes([0xEE]) * 16
    rig.driver.write_block(CARD_A, 8, old, KEY)
    rig.sim.command(f"tear {n}")
    with pytest.raises(WriteInterrupted) as info:
        rig.driver.write_block(CARD_A, 8, NEW, KEY)
    assert isinstance(info.value, WriteFailed) and isinstance(info.value, CardRemovedError)
    rig.wait_for(lambda e: isinstance(e, CardRemoved))
    rig.tap(CARD_A)  # the resident puts the card back
    back = rig.driver.read_block(CARD_A, 8, KEY)
    assert back == NEW[:n] + old[n:]  # the simulator's model: the first n bytes landed
    assert (back == old) == (n == 0) and (back == NEW) == (n == 16)
    rig.driver.write_block(CARD_A, 8, NEW, KEY)  # the retry completes and verifies
    assert rig.driver.read_block(CARD_A, 8, KEY) == NEW


class WeakEeprom(Pn532Simulator):
    """A card whose write reports success but keeps one byte of the old data."""

    def _write(self, card, block, data):
        status, out = super()._write(card, block, data)
        card.blocks[block] = data[:-1] + bytes([data[-1] ^ 0xFF])
        return status, out


def test_read_back_mismatch_is_torn_write(tmp_path: Path) -> None:
    rig = Rig(tmp_path, WeakEeprom(state_path=tmp_path / "pn532.json"))
    try:
        rig.tap(CARD_A)
        with pytest.raises(TornWrite):
            rig.driver.write_block(CARD_A, 4, NEW, KEY)
    finally:
        rig.close()


def test_lost_port_is_a_fault_then_reopened(rig: Rig) -> None:
    rig.tap(CARD_A)
    rig.port.close()  # as if the USB adapter went away under the driver
    rig.wait_for(lambda e: isinstance(e, DeviceFault) and e.code == "port")
    rig.wait_for(lambda e: isinstance(e, DeviceFaultCleared) and e.code == "port")
    rig.polls(3)
    assert rig.card_events() == [("CardPresented", CARD_A)]  # the same card, not a new tap
    assert rig.driver.all_stats()["port_errors"] >= 1
