"""The EM4100 simulator on its own: streamed frames on the pty, knobs, state file, commands."""

from __future__ import annotations

import os
import select
import time
from pathlib import Path

import pytest

from drivers.card_reader.em4100.protocol import CardId, FrameDecoder, encode_frame
from drivers.card_reader.em4100.simulator import Em4100Simulator
from drivers import registry
from drivers.transport import simulator_class


def read_for(fd: int, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    out = b""
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            out += os.read(fd, 4096)
    return out


@pytest.fixture
def sim_fd(tmp_path: Path):
    sim = Em4100Simulator(state_path=tmp_path / "card.json", repeat_interval=0.05)
    fd = os.open(sim.start_on_pty(), os.O_RDWR | os.O_NOCTTY)
    yield sim, fd
    os.close(fd)
    sim.stop()


def test_streams_the_frame_repeatedly_while_present(sim_fd) -> None:
    sim, fd = sim_fd
    assert read_for(fd, 0.2) == b""  # no card: silence
    sim.command("present 67003B51C6")
    data = read_for(fd, 0.5)
    frame = encode_frame(CardId(0x67, 0x003B51C6))
    assert data.count(frame) >= 4 and data == frame * data.count(frame)
    sim.command("remove")
    read_for(fd, 0.1)
    assert read_for(fd, 0.2) == b""


def test_unplug_stops_output_and_host_bytes_are_ignored(sim_fd) -> None:
    sim, fd = sim_fd
    sim.command("present 0A12345678")
    sim.command("unplug")
    read_for(fd, 0.1)
    os.write(fd, b"hello reader")
    assert read_for(fd, 0.2) == b""
    sim.command("plug")
    assert len(FrameDecoder().feed(read_for(fd, 0.3))) >= 2


def test_noise_goes_out_as_is(sim_fd) -> None:
    sim, fd = sim_fd
    assert sim.command("noise 02 ff 03") == "ok: sent 3 noise bytes"
    assert read_for(fd, 0.2) == b"\x02\xff\x03"


def test_reads_per_card_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "card.json"
    sim = Em4100Simulator(state_path=state, repeat_interval=0.02)
    sim.start_on_pty()
    sim.command("present 67003B51C6")
    deadline = time.monotonic() + 3
    while sim.reads.get("67003B51C6", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    sim.stop()
    again = Em4100Simulator(state_path=state)
    assert again.reads["67003B51C6"] >= 3
    assert again.presentations == 1
    assert "67003B51C6" in again.command("counters")


def test_commands_answer_one_line_and_reject_bad_input() -> None:
    sim = Em4100Simulator()
    for line in (
        "",
        "help",
        "status",
        "counters",
        "present",
        "present 12",
        "present XYZXYZXYZX",
        "noise",
        "noise qq",
        "remove",
        "bogus",
        "unplug",
        "plug",
    ):
        answer = sim.command(line)
        assert answer and "\n" not in answer, line
    assert sim.command("present 12").startswith("error")
    assert sim.command("bogus").startswith("error")
    assert sim.card is None
    assert sim.command("present 0a12345678") == "card 0A12345678 in the field"
    assert "0A12345678" in sim.command("status")
    with pytest.raises(ValueError):
        Em4100Simulator(repeat_interval=0)


def test_registered_for_sim_urls() -> None:
    assert "card-reader" in registry.sim_names() and "em4100" in registry.sim_names()
    assert simulator_class("card-reader") is Em4100Simulator
    assert simulator_class("em4100") is Em4100Simulator
