"""A foreign host (no driver of ours) talks raw bytes to the ID-003 simulator through the pty
slave with plain pyserial, as a vendor tool or minicom would; every reply byte is checked."""

from __future__ import annotations

import json

import pytest
import serial

from drivers.bill_validator.id003.simulator import Id003Simulator

H = bytes.fromhex
# host → device
STATUS_REQ = H("FC 05 11 27 56")
RESET = H("FC 05 40 2B 15")
STACK_1 = H("FC 05 41 A2 04")
RETURN = H("FC 05 43 B0 27")
HOLD = H("FC 05 44 0F 53")
ENABLE_ALL = H("FC 07 C0 00 00 2D B5")
INHIBIT_OFF = H("FC 06 C3 00 04 D6")
INHIBIT_ON = H("FC 06 C3 01 8D C7")
# device → host
ACK = H("FC 05 50 AA 05")
POWER_UP = H("FC 05 40 2B 15")
INITIALIZE = H("FC 05 1B 7D F9")
DISABLED = H("FC 05 1A F4 E8")
IDLE = H("FC 05 11 27 56")
ACCEPTING = H("FC 05 12 BC 64")
ESCROW_10 = H("FC 06 13 63 A2 D8")
ESCROW_20 = H("FC 06 13 64 1D AC")
STACKING = H("FC 05 14 8A 01")
VEND_VALID = H("FC 05 15 03 10")
STACKED = H("FC 05 16 98 22")
RETURNING = H("FC 05 18 E6 CB")
REJECT_INHIBIT = H("FC 06 17 79 19 00")
INVALID = H("FC 05 4B F8 AB")


@pytest.fixture
def line(tmp_path):
    sim = Id003Simulator(state_path=tmp_path / "bv.json")
    path = sim.start_on_pty()
    # Opened once, 8E1, never reconfigured: on some kernels a pty refuses a later change
    # whose only effect would be parity (EINVAL), so the timeout is fixed here.
    port = serial.serial_for_url(path, baudrate=9600, parity=serial.PARITY_EVEN, timeout=0.3)
    yield sim, port
    port.close()
    sim.stop()


def ask(port: serial.Serial, frame: bytes, expect: bytes) -> None:
    port.write(frame)
    got = port.read(len(expect))
    assert got == expect, f"sent {frame.hex(' ')}: got {got.hex(' ')}, want {expect.hex(' ')}"


def silent(port: serial.Serial, frame: bytes) -> None:
    port.write(frame)
    assert port.read(16) == b""  # nothing within the port timeout


def test_raw_host_session(line):
    sim, port = line
    ask(port, STATUS_REQ, POWER_UP)
    ask(port, RESET, ACK)
    ask(port, STATUS_REQ, INITIALIZE)
    ask(port, STATUS_REQ, DISABLED)
    ask(port, ENABLE_ALL, ENABLE_ALL)  # setting commands are echoed
    ask(port, INHIBIT_OFF, INHIBIT_OFF)
    ask(port, STATUS_REQ, IDLE)
    ask(port, STACK_1, INVALID)  # nothing in escrow to stack

    assert sim.command("insert 10") == "ok: inserted 10 yuan"
    ask(port, STATUS_REQ, ACCEPTING)
    ask(port, STATUS_REQ, ESCROW_10)
    ask(port, STATUS_REQ, ESCROW_10)  # escrow is held until the host decides
    ask(port, HOLD, ACK)
    ask(port, STACK_1, ACK)
    ask(port, STATUS_REQ, STACKING)
    ask(port, STATUS_REQ, VEND_VALID)
    ask(port, STATUS_REQ, VEND_VALID)  # repeated until the host ACKs
    silent(port, ACK)  # the device does not answer the host's ACK
    ask(port, STATUS_REQ, STACKED)
    ask(port, STATUS_REQ, IDLE)

    assert sim.command("insert 20") == "ok: inserted 20 yuan"
    ask(port, STATUS_REQ, ACCEPTING)
    ask(port, STATUS_REQ, ESCROW_20)
    ask(port, RETURN, ACK)
    ask(port, STATUS_REQ, RETURNING)
    ask(port, STATUS_REQ, IDLE)

    ask(port, INHIBIT_ON, INHIBIT_ON)
    ask(port, STATUS_REQ, DISABLED)
    assert sim.command("insert 50") == "ok: inserted 50 yuan"
    ask(port, STATUS_REQ, ACCEPTING)
    ask(port, STATUS_REQ, REJECT_INHIBIT)
    ask(port, STATUS_REQ, DISABLED)

    counters = json.loads(sim.command("counters"))
    assert counters == {"stacked": {"1000": 1}, "total_notes": 1, "returned": 1, "rejected": 1}


def test_raw_host_bad_frames_get_no_answer(line):
    sim, port = line
    assert _frame(0x11, b"") == STATUS_REQ and _frame(0xC0, b"\0\0") == ENABLE_ALL
    ask(port, RESET, ACK)
    silent(port, STATUS_REQ[:-1] + bytes([STATUS_REQ[-1] ^ 1]))  # bad CRC
    silent(port, STATUS_REQ[:3])  # truncated, then the line goes quiet
    ask(port, b"\x00\x13\xfc" + STATUS_REQ, INITIALIZE)  # garbage, then a good frame
    ask(port, STATUS_REQ + b"\x55\xfc", DISABLED)  # garbage after a good frame
    assert sim.host_frames_bad >= 4  # bad CRC, truncated, false SYNC, garbage after
    ask(port, _frame(0xC3, b"\x07"), INVALID)  # an inhibit value the device does not know
    ask(port, _frame(0xC0, b"\x00"), INVALID)  # C0 needs two bytes
    ask(port, _frame(0x99, b""), INVALID)  # unknown command
    ask(port, STATUS_REQ, DISABLED)


def _frame(cmd: int, data: bytes) -> bytes:
    # independent of the protocol module: the KERMIT CRC written out bit by bit
    body = bytes([0xFC, 5 + len(data), cmd]) + data
    crc = 0
    for byte in body:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return body + bytes([crc & 0xFF, crc >> 8])


def test_raw_host_sees_faults_and_power_up(line):
    sim, port = line
    ask(port, RESET, ACK)
    ask(port, STATUS_REQ, INITIALIZE)
    assert sim.command("cashbox-remove") == "ok: cashbox_removed"
    ask(port, STATUS_REQ, _frame(0x44, b""))
    assert sim.command("cashbox-insert") == "ok: cash box inserted"
    assert sim.command("failure") == "ok: failure"
    ask(port, STATUS_REQ, _frame(0x49, b"\xa2"))
    assert sim.command("clear") == "ok: faults cleared"
    ask(port, STATUS_REQ, DISABLED)
    assert sim.command("power-cycle").startswith("ok: power cycled; next status 0x40")
    ask(port, STATUS_REQ, POWER_UP)
    ask(port, STACK_1, INVALID)  # only a reset gets it out of power-up
