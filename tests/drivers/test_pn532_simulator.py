"""The PN532 simulator byte for byte, as any third-party host sees it over the pty: sleep until
the HSU wake-up, ACK then answer, error frame, NACK resend, a list that waits for a card and its
abort, bench commands, and the state file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from drivers.card_reader.pn532 import protocol as p
from drivers.card_reader.pn532.link import LINE_SETTINGS
from drivers.card_reader.pn532.simulator import Pn532Simulator
from drivers.transport import open_port


class Host:
    def __init__(self, sim: Pn532Simulator) -> None:
        self.port = open_port(sim.start_on_pty(), LINE_SETTINGS)
        self.reader = p.FrameReader(expect_tfi=p.TFI_PN532)
        self.frames: list[p.Frame] = []

    def send(self, raw: bytes) -> None:
        self.port.write(raw)

    def expect(self, n: int, timeout: float = 10.0) -> list[p.Frame]:
        """The next ``n`` frames; fails at the deadline (which only bounds a hang)."""
        deadline = time.monotonic() + timeout
        while len(self.frames) < n and time.monotonic() < deadline:
            self.frames += self.reader.feed(self.port.read(max(1, self.port.in_waiting)))
        got, self.frames = self.frames[:n], self.frames[n:]
        assert len(got) == n, f"wanted {n} frames, got {got}"
        return got

    def nothing_within(self, raw: bytes, probe: bytes) -> list[p.Frame]:
        """Send ``raw`` then ``probe`` (a command that is always answered): whatever comes back
        before the probe's ACK was caused by ``raw``."""
        self.send(raw + probe)
        out = []
        while True:
            (frame,) = self.expect(1)
            if frame.kind == "ack":
                return out
            out.append(frame)


@pytest.fixture
def sim(tmp_path: Path):
    s = Pn532Simulator(state_path=tmp_path / "pn532.json")
    yield s
    s.stop()


def test_asleep_until_wake_up_then_ack_and_answer(sim: Pn532Simulator) -> None:
    host = Host(sim)
    host.send(p.get_firmware_version())  # asleep: ignored
    host.send(p.WAKEUP + p.get_firmware_version())
    ack, fw = host.expect(2)
    assert ack == p.ACK
    assert fw.encode() == bytes.fromhex("0000FF06FAD50332010607E800")  # UM0701-02 7.2.2
    assert sim.counters["commands"] == 1
    host.send(p.sam_configuration())
    assert host.expect(2)[1].encode() == bytes.fromhex("0000FF02FED51516" + "00")


def test_error_frame_nack_and_bad_checksum(sim: Pn532Simulator) -> None:
    host = Host(sim)
    host.send(p.WAKEUP + p.command(0x70))  # no such command
    assert host.expect(2) == [p.ACK, p.ERROR]
    host.send(p.get_firmware_version())
    first = host.expect(2)[1]
    host.send(p.NACK_FRAME)  # the host lost the answer: the last answer again, no ACK
    assert host.expect(1) == [first]
    bad = bytearray(p.get_firmware_version())
    bad[-2] ^= 0xFF
    assert host.nothing_within(bytes(bad), p.get_firmware_version()) == []
    assert host.expect(1)[0].code == 0x03
    assert sim.host_stats["bad_dcs"] == 1


def test_list_waits_for_a_card_until_aborted_or_present(sim: Pn532Simulator) -> None:
    host = Host(sim)
    host.send(p.WAKEUP + p.in_list_passive_target())
    assert host.expect(1) == [p.ACK]  # MxRtyPassiveActivation 0xFF: waits for a card
    host.send(p.ACK_FRAME)  # host abort (UM0701-02 6.2.1.3)
    assert host.nothing_within(b"", p.get_firmware_version()) == []
    host.expect(1)
    assert sim.counters["aborts"] == 1
    host.send(p.in_list_passive_target())
    assert host.expect(1) == [p.ACK]
    sim.command("present 1A2B3C4D")
    (answer,) = host.expect(1)
    assert answer.encode() == bytes.fromhex("0000FF0CF4D54B0101000408041A2B3C4D0000")
    host.send(p.rf_max_retries())
    host.expect(2)
    sim.command("remove")
    host.send(p.in_list_passive_target())
    assert host.expect(2)[1].params == b"\x00"  # finite retries: NbTg 0 at once


def test_block_commands_on_the_wire(sim: Pn532Simulator) -> None:
    host = Host(sim)
    sim.command("present 1A2B3C4D")
    host.send(p.WAKEUP + p.in_list_passive_target())
    host.expect(2)
    uid = bytes.fromhex("1A2B3C4D")

    def exchange(payload: bytes) -> tuple[int, bytes]:
        host.send(p.in_data_exchange(1, payload))
        return p.parse_status(host.expect(2)[1], p.IN_DATA_EXCHANGE)

    assert exchange(p.mifare_read(4))[0] == p.STATUS_NOT_ACCEPTABLE  # not authenticated
    assert exchange(p.mifare_auth(4, b"\x00" * 6, uid))[0] == p.STATUS_AUTH_ERROR
    assert exchange(p.mifare_auth(4, b"\xff" * 6, uid)) == (0, b"")
    assert exchange(p.mifare_write(5, bytes(range(16)))) == (0, b"")
    assert exchange(p.mifare_read(5)) == (0, bytes(range(16)))
    assert exchange(p.mifare_read(7))[1] == b"\x00" * 6 + bytes.fromhex("FF078069") + b"\xff" * 6
    assert exchange(p.mifare_read(8))[0] == p.STATUS_NOT_ACCEPTABLE  # another sector
    sim.command("tear 4")
    assert exchange(p.mifare_write(6, b"\xaa" * 16))[0] == p.STATUS_TIMEOUT
    assert sim.present_uid is None
    assert sim.cards["1A2B3C4D"].blocks[6] == b"\xaa" * 4 + b"\x00" * 12
    assert exchange(p.mifare_read(5))[0] == p.STATUS_NOT_ACCEPTABLE  # target gone


def test_bench_commands_and_state_file(tmp_path: Path) -> None:
    path = tmp_path / "pn532.json"
    sim = Pn532Simulator(state_path=path)
    assert "present" in sim.command("help") and "tear" in sim.command("")
    assert sim.command("present 1A2B3C4D").startswith("ok")
    assert sim.command("present 0102").startswith("error")
    assert sim.command("present zz").startswith("error")
    assert sim.command("tear x").startswith("error")
    assert sim.command("keys 1 A0A1A2A3A4A5 B0B1B2B3B4B5").startswith("ok")
    assert sim.command("block 7").startswith("A0A1A2A3A4A5FF078069")
    assert sim.command("tear 3") == "ok: tear 3" and "tear 3" in sim.command("status")
    assert sim.command("clear").startswith("ok") and "tear -" in sim.command("status")
    assert sim.command("frobnicate").startswith("error")
    counters = json.loads(sim.command("counters"))
    assert counters["presentations"] == 1 and counters["host_frames_bad"] == 0
    again = Pn532Simulator(state_path=path)  # power cut: the card's memory and position stay
    assert again.present_uid == "1A2B3C4D" and again.asleep
    assert again.cards["1A2B3C4D"].trailer(1)[:6] == bytes.fromhex("A0A1A2A3A4A5")
    assert again.counters["presentations"] == 1
