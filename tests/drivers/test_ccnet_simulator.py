"""The CCNET simulator byte for byte, as any third-party host sees it: the manual's power-up
and reset sequence over a real pty, ILLEGAL COMMAND, NAK handling, HOLD and the escrow clock,
and the bench commands (the ID-003 simulator's words plus CCNET's own)."""

from __future__ import annotations

import json

from drivers.bill_validator.ccnet import protocol as p
from drivers.bill_validator.ccnet.simulator import HELP, CcnetSimulator
from tests.drivers.validator_rig import CcnetHost, FakeClock


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


def test_power_up_and_reset_sequence_over_a_pty(tmp_path):
    sim = CcnetSimulator(state_path=tmp_path / "s.json")
    sim.start_on_pty()
    host = CcnetHost(sim.port_path)
    try:
        port = host.port
        port.write(hx("02 03 06 33 DA 81"))  # POLL
        assert port.read(6) == hx("02 03 06 10 43 92")  # POWER UP
        port.write(hx("02 03 06 00 C2 82"))  # ACK
        port.write(hx("02 03 06 30 41 B3"))  # RESET
        assert port.read(6) == hx("02 03 06 00 C2 82")  # ACK
        port.write(hx("02 03 06 33 DA 81"))
        assert port.read(6) == hx("02 03 06 13 D8 A0")  # INITIALIZE
        port.write(hx("02 03 06 00 C2 82"))
        port.write(hx("02 03 06 33 DA 81"))
        assert port.read(6) == hx("02 03 06 19 82 0F")  # UNIT DISABLED
        port.write(hx("02 03 06 00 C2 82"))
        port.write(hx("02 03 0C 34 00 00 3F 00 00 3F 68 3B"))  # ENABLE types 0-5, escrow
        assert port.read(6) == hx("02 03 06 00 C2 82")
        port.write(hx("02 03 06 33 DA 81"))
        assert port.read(6) == hx("02 03 06 14 67 D4")  # IDLING
        port.write(hx("02 03 06 00 C2 82"))
        table = host.ask(p.GET_BILL_TABLE)
        assert p.decode_bill_table(table.body) == p.CNY_BILL_TABLE + (p.EMPTY_BILL_TYPE,) * 18
        ident = host.ask(p.IDENTIFICATION)
        assert p.decode_identity(ident.body).serial_number == "41K123456789"
        status = host.ask(p.GET_STATUS)
        assert status.body == hx("00 00 3F 00 00 00")
        assert sim.unacked == 0
    finally:
        host.close()
        sim.stop()


def test_a_bill_stacked_byte_for_byte():
    sim = CcnetSimulator()
    sim.on_bytes(p.encode(p.RESET))
    sim.on_bytes(p.encode(p.ENABLE_BILL_TYPES, p.bill_mask({3}) * 2))
    sim.command("insert 20")
    answers = []
    for _ in range(3):
        answers.append(sim.on_bytes(p.encode(p.POLL)))
        sim.on_bytes(p.encode(p.ACK))
    assert answers == [p.encode(p.INITIALIZE), p.encode(p.ACCEPTING),
                       hx("02 03 07 80 03 17 01")]
    assert sim.on_bytes(p.encode(p.STACK)) == p.encode(p.ACK)
    assert sim.on_bytes(p.encode(p.POLL)) == p.encode(p.STACKING)
    sim.on_bytes(p.encode(p.ACK))
    assert sim.on_bytes(p.encode(p.POLL)) == hx("02 03 07 81 03 CF 18")
    assert sim.on_bytes(p.encode(p.POLL)) == hx("02 03 07 81 03 CF 18")  # not ACKed: again
    assert sim.unacked == 1
    sim.on_bytes(p.encode(p.ACK))
    assert sim.on_bytes(p.encode(p.POLL)) == p.encode(p.IDLING)
    assert sim.counters() == {"stacked": {"2000": 1}, "total_notes": 1, "returned": 0,
                              "rejected": 0}


def test_illegal_commands_and_nak():
    sim = CcnetSimulator()
    assert sim.on_bytes(p.encode(p.STACK)) == p.encode(p.ILLEGAL_COMMAND)  # in power-up
    sim.on_bytes(p.encode(p.ACK))
    sim.on_bytes(p.encode(p.RESET))
    assert sim.on_bytes(p.encode(p.STACK)) == p.encode(p.ILLEGAL_COMMAND)  # nothing in escrow
    assert sim.on_bytes(p.encode(0x77)) == p.encode(p.ILLEGAL_COMMAND)  # unknown command
    assert sim.on_bytes(p.encode(p.ENABLE_BILL_TYPES, b"\x00")) == p.encode(p.ILLEGAL_COMMAND)
    assert sim.on_bytes(p.encode(p.POLL, address=0x01)) == b""  # another peripheral's
    first = sim.on_bytes(p.encode(p.POLL))
    assert sim.on_bytes(p.encode(p.NAK)) == first  # the host got a bad CRC: same answer
    assert sim.on_bytes(p.encode(p.POLL)[:4]) == b""  # half a frame: wait for the rest


def test_hold_restarts_the_escrow_period_and_the_unit_returns_by_itself():
    clock = FakeClock()
    sim = CcnetSimulator(clock=clock)
    sim.on_bytes(p.encode(p.RESET))
    sim.on_bytes(p.encode(p.ENABLE_BILL_TYPES, p.bill_mask({2}) * 2))
    sim.command("insert 10")
    for _ in range(3):
        sim.on_bytes(p.encode(p.POLL))
        sim.on_bytes(p.encode(p.ACK))
    clock.advance(9.0)
    assert sim.on_bytes(p.encode(p.HOLD)) == p.encode(p.ACK)
    clock.advance(9.0)
    assert sim.on_bytes(p.encode(p.POLL)) == p.encode(p.HOLDING)
    sim.on_bytes(p.encode(p.ACK))
    clock.advance(1.0)  # 10 s since the HOLD
    assert sim.on_bytes(p.encode(p.POLL)) == p.encode(p.RETURNING)
    sim.on_bytes(p.encode(p.ACK))
    assert sim.on_bytes(p.encode(p.POLL)) == p.encode(p.BILL_RETURNED, b"\x02")
    sim.on_bytes(p.encode(p.ACK))
    assert sim.counters()["returned"] == 1


def test_bench_commands():
    sim = CcnetSimulator()
    assert sim.command("") == HELP and sim.command("help") == HELP
    for word in ("insert", "jam", "clear", "counters", "busy", "nak", "bill-type"):
        assert word in HELP
    assert sim.command("insert 10").startswith("error: device is in power-up")
    sim.on_bytes(p.encode(p.RESET))
    assert sim.command("insert ten").startswith("error: usage")
    assert sim.command("insert 10") == "ok: inserted 10 yuan"
    assert sim.command("insert 10").startswith("error: a bill is already")
    assert sim.command("frobnicate").startswith("error: unknown command")
    assert sim.command("failure zz").startswith("error")
    assert sim.command("bill-type 30 1").startswith("error: usage")
    assert sim.command("bill-type 6 200") == "ok: bill type 6 = 200 yuan"
    assert sim.command("bill-table") == "0:1 1:5 2:10 3:20 4:50 5:100 6:200"
    assert sim.command("identity").startswith("part=SM-CN1715 serial=41K123456789")
    assert sim.command("escrow-timeout 5") == "ok: escrow-timeout 5"
    assert json.loads(sim.command("counters"))["total_notes"] == 0
    assert sim.command("status").startswith("state 0x13 initialize note=1000 stage=accepting")
    assert sim.command("power-cycle") == (
        "ok: power cycled; next state 0x11 power_up_bill_in_validator")


def test_counters_and_the_bill_survive_a_power_cut(tmp_path):
    state = tmp_path / "bv.json"
    sim = CcnetSimulator(state_path=state)
    sim.on_bytes(p.encode(p.RESET))
    sim.on_bytes(p.encode(p.ENABLE_BILL_TYPES, p.bill_mask({2}) * 2))
    sim.command("insert 10")
    for _ in range(3):
        sim.on_bytes(p.encode(p.POLL))
        sim.on_bytes(p.encode(p.ACK))
    sim.on_bytes(p.encode(p.STACK))
    again = CcnetSimulator(state_path=state)
    assert again.on_bytes(p.encode(p.POLL)) == p.encode(p.POWER_UP_BILL_IN_STACKER)
    again.on_bytes(p.encode(p.ACK))
    again.on_bytes(p.encode(p.RESET))
    assert again.counters()["stacked"] == {"1000": 1}
    state.write_text('{"note": {"stage": "nonsense"}, "faults": "x", "counters": 3}')
    assert CcnetSimulator(state_path=state).state["note"] is None  # a bad file cannot crash it
