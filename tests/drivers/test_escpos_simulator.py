"""The printer simulator on its own: bench commands, status bytes per state, refusing to print,
receipts per cut, and counters that outlive the simulator process (state file)."""

from __future__ import annotations

import json

import pytest

from drivers.printer.escpos import protocol as P
from drivers.printer.escpos.simulator import EscPosSimulator


def job(*lines: str, qr: str | None = None, cut: bool = True) -> bytes:
    out = P.INIT + P.KANJI_ON + b"".join(P.encode_chinese(x) + b"\n" for x in lines)
    if qr:
        data = qr.encode()
        out += b"\x1d(k" + (len(data) + 3).to_bytes(2, "little") + b"1P0" + data
        out += b"\x1d(k\x03\x001Q0"
    return out + P.KANJI_OFF + (b"\x1bd\x06\x1dV\x00" if cut else b"")


def test_status_bytes_per_state() -> None:
    sim = EscPosSimulator()
    ask = P.status_request(1) + P.status_request(2) + P.status_request(3) + P.status_request(4)
    assert sim.on_bytes(ask) == bytes([0x12, 0x12, 0x12, 0x12])
    sim.command("paper near-end")
    assert sim.on_bytes(ask) == bytes([0x12, 0x12, 0x12, 0x1E])
    sim.command("paper out")
    assert sim.on_bytes(ask) == bytes([0x1A, 0x32, 0x12, 0x72])
    sim.command("paper ok")
    sim.command("cover open")
    assert sim.on_bytes(ask) == bytes([0x1A, 0x16, 0x12, 0x12])
    sim.command("cover closed")
    sim.command("offline")
    assert sim.on_bytes(ask)[0] == 0x1A
    sim.command("online")
    sim.command("mute")
    assert sim.on_bytes(ask) == b""
    assert sim.counters["status_requests"] == 24


def test_receipt_per_cut_and_split_delivery() -> None:
    sim = EscPosSimulator()
    data = job("第一行，", "¥5", qr="Q1") + job("second")
    for i in range(0, len(data), 7):  # a receipt arriving in small pieces
        sim.on_bytes(data[i : i + 7])
    assert sim.receipts == [
        {"lines": ["第一行，", "￥5"], "double": ["", ""], "qr": ["Q1"]},
        {"lines": ["second"], "double": [""], "qr": []},
    ]
    assert json.loads(sim.command("last")) == {"lines": ["second"], "double": [""], "qr": []}


def test_refuses_to_print_without_paper() -> None:
    sim = EscPosSimulator()
    sim.command("paper out")
    sim.on_bytes(job("nothing"))
    assert sim.receipts == [] and sim.counters["lines"] == 0 and sim.counters["spoiled"] == 1
    sim.command("paper ok")
    sim.on_bytes(job("after reload"))
    assert sim.receipts == [{"lines": ["after reload"], "double": [""], "qr": []}]


def test_receipt_spoiled_before_its_cut_is_not_recorded() -> None:
    sim = EscPosSimulator()
    data = job("line 1", "line 2", "line 3")
    half = data.index(b"line 2")
    sim.on_bytes(data[:half])
    sim.command("cover open")  # opened mid-receipt, closed again before the cut arrives
    sim.on_bytes(data[half : half + 7])
    sim.command("cover closed")
    sim.on_bytes(data[half + 7 :])
    assert sim.receipts == [] and sim.counters["spoiled"] == 1 and sim.counters["cuts"] == 1


def test_uncut_receipt_is_not_a_receipt() -> None:
    sim = EscPosSimulator()
    sim.on_bytes(job("no cut", cut=False) + job("next"))
    assert [r["lines"] for r in sim.receipts] == [["next"]]
    assert sim.counters["spoiled"] == 1


def test_counters_survive_restart(tmp_path) -> None:
    path = tmp_path / "p.json"
    sim = EscPosSimulator(state_path=path)
    sim.on_bytes(job("a", "b") + job("c") + b"\x1b\x7f")
    again = EscPosSimulator(state_path=path)
    assert json.loads(again.command("counters")) == {
        "cuts": 2, "lines": 3, "receipts": 2, "spoiled": 0, "status_requests": 0, "unknown": 1,
        "unprintable": 0,
    }  # fmt: skip
    assert again.receipts == []  # the paper left with the customer; only counters are kept


@pytest.mark.parametrize(
    "line, answer",
    [
        ("help", "paper ok|near-end|out"),
        ("status", "paper=ok cover=closed online muted=no receipts=0"),
        ("last", "none"),
        ("paper sideways", "error"),
        ("paper", "error"),
        ("cover ajar", "error"),
        ("drop x", "error"),
        ("delay -5", "error"),
        ("noise zz", "error"),
        ("frobnicate", "unknown command"),
        ("delay 20", "ok: replies delayed 20 ms"),
        ("paper out-after 4", "after 4 line"),
    ],
)
def test_bench_commands(line: str, answer: str) -> None:
    sim = EscPosSimulator()
    got = sim.command(line)
    assert answer in got and "\n" not in got


def test_garbage_does_not_stop_the_simulator() -> None:
    sim = EscPosSimulator()
    sim.on_bytes(b"\x1d(k\xff\xff")  # a QR block that never completes its 65 kB ...
    assert sim.on_bytes(b"\x00" * 10) == b""  # ... swallows what follows, like a real printer
    sim2 = EscPosSimulator()
    sim2.on_bytes(bytes(range(256)) * 4)
    assert sim2.on_bytes(P.status_request(1)) == b"\x12"
    assert sim2.counters["unknown"] > 0
