"""The eSSP simulator byte for byte, driven by a raw host over the pty: the resend rule, the
refusal before a key, bench words."""

from __future__ import annotations

import json
import time

import serial

from drivers.bill_validator.essp import protocol as p
from drivers.bill_validator.essp.simulator import EsspSimulator


class RawHost:
    def __init__(self, path):
        self.port = serial.serial_for_url(path, baudrate=9600, stopbits=2, timeout=0.05)
        self.reader = p.PacketReader()

    def ask(self, seq, data, timeout=2.0):
        self.port.write(p.encode(seq, 0, data))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.reader.feed(self.port.read(64))
            if got:
                return got[0]
        raise AssertionError(f"no reply to {data.hex()}")


def test_resend_gets_the_same_reply_and_nothing_happens_twice(tmp_path):
    sim = EsspSimulator(state_path=tmp_path / "s.json")
    host = RawHost(sim.start_on_pty())
    try:
        assert host.ask(True, bytes([p.SYNC])).data == bytes([p.OK])  # 7F 80 01 11 65 82
        first = host.ask(False, bytes([p.SETUP_REQUEST]))
        again = host.ask(False, bytes([p.POLL_WITH_ACK]))  # same flag: a resend
        assert again == first  # the cached setup reply, the poll is not acted on
        assert host.ask(True, bytes([p.POLL_WITH_ACK])).data == bytes([p.KEY_NOT_SET])
        assert host.ask(False, bytes([p.SET_GENERATOR]) + (15).to_bytes(8, "little")).data \
            == bytes([p.PARAMETER_OUT_OF_RANGE])  # the generator must be prime
    finally:
        host.port.close()
        sim.stop()


def test_bench_words():
    sim = EsspSimulator()
    assert sim.command("insert 10") == "ok: inserted 10 yuan"
    assert sim.command("insert 10").startswith("error:")
    assert sim.command("insert ten").startswith("error:")
    assert sim.command("wrong-key maybe").startswith("error:")
    assert sim.command("replay 2") == "ok: replay 2" and sim.replay_replies == 2
    assert sim.command("jam") == "ok: acceptor_jam"
    assert json.loads(sim.command("counters"))["total_notes"] == 0
    assert "insert <yuan>" in sim.command("help")
    assert sim.command("frobnicate").startswith("error: unknown command")
