"""The ID-003 simulator's bench prompt and non-volatile state, without the pty."""

from __future__ import annotations

import json

import pytest

from drivers.bill_validator.id003 import protocol as p
from drivers.bill_validator.id003.simulator import HELP, Id003Simulator


def talk(sim: Id003Simulator, cmd: int, data: bytes = b"") -> p.Frame | None:
    reply = sim.on_bytes(p.encode(cmd, data))
    return p.decode(reply) if reply else None


def status(sim: Id003Simulator) -> int:
    frame = talk(sim, p.STATUS_REQUEST)
    assert frame is not None
    return frame.cmd


def ready(sim: Id003Simulator) -> None:
    assert status(sim) == p.POWER_UP
    assert talk(sim, p.RESET).cmd == p.ACK
    assert talk(sim, p.SET_INHIBIT, b"\x00").data == b"\x00"
    assert status(sim) == p.INITIALIZE
    assert status(sim) == p.ENABLE_IDLING


COMMANDS = [
    "help", "status", "counters", "insert 10", "insert ten", "insert", "insert 3",
    "reject", "reject 71", "reject zz", "jam", "stacker-jam", "stacker-full", "cashbox-remove",
    "cashbox-insert", "cheat", "failure", "comm-error", "pause", "clear", "noise FC 05",
    "noise", "noise zz", "drop 2", "drop -1", "corrupt 1", "ignore-ack 1", "delay 5",
    "delay x", "power-cycle", "frobnicate", "",
]


@pytest.mark.parametrize("line", COMMANDS)
def test_every_command_answers_exactly_one_line(tmp_path, line):
    sim = Id003Simulator(state_path=tmp_path / "s.json")
    answer = sim.command(line)
    assert answer and "\n" not in answer
    assert answer.startswith(("ok", "error", "status", "{", "commands"))


def test_help_names_every_knob():
    for word in ("insert", "jam", "stacker-jam", "clear", "stacker-full", "cashbox-remove",
                 "cashbox-insert", "cheat", "failure", "noise", "drop", "delay", "power-cycle",
                 "counters", "status", "help"):
        assert word in HELP


def test_insert_needs_a_ready_device(tmp_path):
    sim = Id003Simulator(state_path=tmp_path / "s.json")
    assert sim.command("insert 10").startswith("error: device is in power-up")
    ready(sim)
    assert sim.command("insert 10") == "ok: inserted 10 yuan"
    assert sim.command("insert 20").startswith("error: a note is already")
    assert sim.command("insert 1.5").startswith("error")


def test_counters_and_faults_survive_a_restart(tmp_path):
    state = tmp_path / "s.json"
    sim = Id003Simulator(state_path=state)
    ready(sim)
    sim.command("insert 100")
    assert [status(sim), status(sim)] == [p.ACCEPTING, p.ESCROW]
    assert talk(sim, p.STACK_2).cmd == p.ACK  # stack-2 stacks too
    assert [status(sim), status(sim)] == [p.STACKING, p.VEND_VALID]
    assert talk(sim, p.ACK) is None  # no answer to the host's ACK
    assert [status(sim), status(sim)] == [p.STACKED, p.ENABLE_IDLING]
    sim.command("stacker-full")
    counters = json.loads(sim.command("counters"))
    assert counters == {"rejected": 0, "returned": 0, "stacked": {"10000": 1}, "total_notes": 1}

    again = Id003Simulator(state_path=state)  # power cut: a new instance, the same NVRAM
    assert json.loads(again.command("counters")) == counters
    assert status(again) == p.POWER_UP
    assert talk(again, p.RESET).cmd == p.ACK
    assert status(again) == p.STACKER_FULL  # the full box is still full
    assert again.command("cashbox-insert") == "ok: cash box inserted"
    assert status(again) == p.INITIALIZE


def test_unreadable_state_file_starts_from_defaults(tmp_path):
    state = tmp_path / "s.json"
    state.write_text("{not json")
    sim = Id003Simulator(state_path=state)
    assert sim.counters()["total_notes"] == 0


def test_escrow_stays_until_the_host_decides_and_bad_commands_are_refused(tmp_path):
    sim = Id003Simulator(state_path=tmp_path / "s.json")
    ready(sim)
    assert talk(sim, p.RETURN).cmd == p.INVALID_COMMAND  # nothing to return
    sim.command("insert 50")
    assert [status(sim) for _ in range(4)] == [p.ACCEPTING] + [p.ESCROW] * 3
    assert talk(sim, p.HOLD).cmd == p.ACK
    sim.command("jam")
    assert talk(sim, p.STACK_1).cmd == p.INVALID_COMMAND  # a jammed device cannot stack
    sim.command("clear")
    assert talk(sim, p.RETURN).cmd == p.ACK
    assert [status(sim), status(sim)] == [p.RETURNING, p.ENABLE_IDLING]
    assert sim.counters()["returned"] == 1
    assert talk(sim, 0x99).cmd == p.INVALID_COMMAND


def test_power_cycle_reports_where_the_note_is(tmp_path):
    sim = Id003Simulator(state_path=tmp_path / "s.json")
    ready(sim)
    sim.command("insert 10")
    status(sim)
    assert sim.power_cycle() == p.POWER_UP_BILL_IN_ACCEPTOR
    assert talk(sim, p.RESET).cmd == p.ACK
    assert sim.counters()["returned"] == 1
    assert talk(sim, p.SET_INHIBIT, b"\x00") is not None
    status(sim)  # INITIALIZE
    sim.command("insert 10")
    assert [status(sim), status(sim)] == [p.ACCEPTING, p.ESCROW]
    talk(sim, p.STACK_1)
    assert sim.power_cycle() == p.POWER_UP_BILL_IN_STACKER
    assert talk(sim, p.ACK) is None and sim.counters()["total_notes"] == 0  # ACK ignored
    talk(sim, p.RESET)
    assert sim.counters()["total_notes"] == 1


@pytest.mark.parametrize("content", [
    '{"counters": {"total_notes": 3}}',  # an older file without the newer counters
    '{"note": {"stage": "flying"}, "faults": "jam"}',
    '{"note": 7, "faults": ["jam", "acceptor_jam"], "counters": []}',
])
def test_odd_state_files_do_not_break_the_device(tmp_path, content):
    state = tmp_path / "s.json"
    state.write_text(content)
    sim = Id003Simulator(state_path=state)
    if "acceptor_jam" in content:
        assert status(sim) == p.POWER_UP
        assert talk(sim, p.RESET).cmd == p.ACK
        assert status(sim) == p.ACCEPTOR_JAM  # the known fault survived, the unknown one not
    else:
        ready(sim)
    counters = sim.counters()
    assert set(counters) == {"stacked", "total_notes", "returned", "rejected"}
    assert sim.command("status").startswith("status ")
