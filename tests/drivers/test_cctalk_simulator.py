"""The ccTalk simulator on its own: echo on the single wire, answers, state file, bench commands."""

from __future__ import annotations

import json
import os
import select
import time
from pathlib import Path

import pytest

from drivers.coin_acceptor.cctalk import protocol as p
from drivers.coin_acceptor.cctalk.simulator import CcTalkSimulator
from drivers import registry
from drivers.transport import simulator_class


def read_for(fd: int, n: int, timeout: float = 2.0) -> bytes:
    deadline = time.monotonic() + timeout
    out = b""
    while len(out) < n and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            out += os.read(fd, 4096)
    return out


@pytest.fixture
def wire(tmp_path: Path):
    sims: list[CcTalkSimulator] = []
    fds: list[int] = []

    def make(**kw) -> tuple[CcTalkSimulator, int]:
        sim = CcTalkSimulator(state_path=tmp_path / "coin.json", **kw)
        path = sim.start_on_pty()
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        sims.append(sim)
        fds.append(fd)
        return sim, fd

    yield make
    for fd in fds:
        os.close(fd)
    for sim in sims:
        sim.stop()


def host_frame(header: int, data: bytes = b"", mode: str = p.SIMPLE, dest: int = 2) -> bytes:
    return p.encode_frame(p.Frame(dest, header, data, p.ADDR_HOST), mode)


def exchange(fd: int, raw: bytes, reply_len: int, timeout: float = 2.0) -> tuple[bytes, bytes]:
    os.write(fd, raw)
    got = read_for(fd, len(raw) + reply_len, timeout)
    return got[: len(raw)], got[len(raw) :]


def test_echo_then_ack_matches_the_vectors(wire) -> None:
    sim, fd = wire()
    poll = host_frame(p.HDR_SIMPLE_POLL)
    assert list(poll) == [2, 0, 1, 254, 255]
    echo, reply = exchange(fd, poll, 5)
    assert echo == poll
    assert list(reply) == [1, 0, 2, 0, 253]


def test_crc_mode_answers_in_crc_mode(wire) -> None:
    sim, fd = wire(checksum="crc16", address=40)
    poll = host_frame(p.HDR_SIMPLE_POLL, mode=p.CRC16, dest=40)
    assert list(poll) == [40, 0, 182, 254, 33]
    echo, reply = exchange(fd, poll, 5)
    assert echo == poll
    assert p.decode_reply(reply, p.CRC16, device=40).header == p.HDR_ACK


def test_corrupt_or_foreign_frames_get_echo_but_no_answer(wire) -> None:
    sim, fd = wire()
    bad = bytearray(host_frame(p.HDR_SIMPLE_POLL))
    bad[3] ^= 0x01
    echo, reply = exchange(fd, bytes(bad), 5, timeout=0.3)
    assert echo == bytes(bad) and reply == b""
    other = host_frame(p.HDR_SIMPLE_POLL, dest=3)
    echo, reply = exchange(fd, other, 5, timeout=0.3)
    assert echo == other and reply == b""
    assert sim.stats["bad_frames"] == 1 and sim.stats["ignored"] == 1
    time.sleep(sim.INTER_BYTE_TIMEOUT * 2)  # a device forgets a partial message after 50 ms
    echo, reply = exchange(fd, host_frame(p.HDR_SIMPLE_POLL), 5)
    assert list(reply) == [1, 0, 2, 0, 253]


def test_partial_frame_is_forgotten_after_the_inter_byte_timeout(wire) -> None:
    sim, fd = wire()
    os.write(fd, b"\x02\x00")
    read_for(fd, 2)
    time.sleep(sim.INTER_BYTE_TIMEOUT * 2)
    _, reply = exchange(fd, host_frame(p.HDR_SIMPLE_POLL), 5)
    assert list(reply) == [1, 0, 2, 0, 253]


def test_inhibit_and_credit_buffer_over_the_wire(wire) -> None:
    sim, fd = wire()
    assert "inhibited" in sim.command("coin 10")
    exchange(fd, host_frame(p.HDR_MODIFY_INHIBIT_STATUS, b"\x05\x00"), 5)  # channels 1 and 3
    exchange(fd, host_frame(p.HDR_MODIFY_MASTER_INHIBIT_STATUS, b"\x01"), 5)
    assert sim.enabled_channels == {1, 3} and sim.master_enabled
    assert "inhibited" in sim.command("coin 50")
    assert "accepted" in sim.command("coin 100")
    _, reply = exchange(fd, host_frame(p.HDR_READ_BUFFERED_CREDIT), 16)
    buf = p.parse_credit_buffer(p.decode_reply(reply, data_len=11).data)
    assert buf.counter == 3
    assert buf.results[:3] == ((3, 1), (0, 2), (0, 2))  # newest first; 2 = inhibited coin
    _, reply = exchange(fd, host_frame(p.HDR_REQUEST_INHIBIT_STATUS), 7)
    assert p.decode_reply(reply).data == b"\x05\x00"


def test_unknown_header_is_naked(wire) -> None:
    sim, fd = wire()
    _, reply = exchange(fd, host_frame(200), 5)
    assert p.decode_reply(reply).header == p.HDR_NAK


def test_state_survives_a_restart_but_inhibits_do_not(tmp_path: Path) -> None:
    state = tmp_path / "coin.json"
    sim = CcTalkSimulator(state_path=state)
    sim.master_enabled, sim.enabled_channels = True, frozenset({1, 2, 3})
    sim.command("coin 10 50 50")
    sim.command("reject")
    again = CcTalkSimulator(state_path=state)
    assert again.counter == 4
    assert again.buffer[:4] == [(0, 1), (2, 1), (2, 1), (1, 1)]
    assert again.coins == {10: 1, 50: 2} and again.total_minor == 110 and again.rejected == 1
    assert not again.master_enabled
    assert json.loads(state.read_text())["counter"] == 4


def test_power_cycle_and_reset_header_zero_the_counter(wire) -> None:
    sim, fd = wire()
    sim.command("lose 3")
    assert sim.counter == 3
    assert sim.command("power-cycle").startswith("power cycled")
    assert sim.counter == 0 and sim.buffer == [(0, 0)] * 5
    sim.command("reject")
    _, reply = exchange(fd, host_frame(p.HDR_RESET_DEVICE), 5)
    assert p.decode_reply(reply).header == p.HDR_ACK
    assert sim.counter == 0 and sim.coins == {}


def test_counter_wraps_to_one_never_zero() -> None:
    sim = CcTalkSimulator()
    sim.counter = 254
    sim.command("lose 2")
    assert sim.counter == 1


def test_bench_commands_answer_one_line_and_never_raise() -> None:
    sim = CcTalkSimulator()
    for line in (
        "",
        "help",
        "status",
        "counters",
        "coin",
        "coin ten",
        "coin -5",
        "lose 0",
        "lose 999",
        "noise zz",
        "noise",
        "drop x",
        "delay",
        "bogus",
        "jam",
        "clear",
        "drop 2",
        "delay 30",
        "power-cycle",
        "coin 5",
    ):
        answer = sim.command(line)
        assert isinstance(answer, str) and answer and "\n" not in answer, line
    assert "error" in sim.command("coin ten")
    assert "error" in sim.command("bogus")
    assert "not programmed" in sim.command("coin 5")
    assert sim.drop_replies == 2 and sim.reply_delay == pytest.approx(0.03)
    assert "event counter" in sim.command("counters")


def test_jam_blocks_coins_until_cleared() -> None:
    sim = CcTalkSimulator()
    sim.master_enabled, sim.enabled_channels = True, frozenset({1})
    sim.command("jam")
    assert sim.buffer[0] == (0, 14)
    assert "jammed" in sim.command("coin 10") or "not taken" in sim.command("coin 10")
    sim.command("clear")
    assert "accepted" in sim.command("coin 10")


def test_registered_for_sim_urls() -> None:
    assert "coin-acceptor" in registry.sim_names() and "cctalk" in registry.sim_names()
    assert simulator_class("coin-acceptor") is CcTalkSimulator
    assert simulator_class("cctalk") is CcTalkSimulator
