"""A GB2312/GBK printer as China-market units are: character sizes by Epson's rules (ESC ! for
ANK characters, FS ! for Kanji, GS ! for both), GB18030 four-byte sequences it cannot print,
and the power-up mode knob; the driver over a real pty against it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import registry
from drivers.interfaces import PrintJob
from drivers.printer.escpos import decoder as D
from drivers.printer.escpos import protocol as P
from drivers.printer.escpos.driver import EscPosPrinter
from drivers.printer.escpos.simulator import EscPosSimulator
from drivers.transport import LineSettings, open_port
from tests.drivers.test_escpos_pty import HANG, JOB, PRINTED, TIMEOUT

GS_SIZE_2X2 = b"\x1d!\x11"  # GS ! 11h: double width and height, ANK and Kanji
ESC_NORMAL = b"\x1b!\x00"  # ESC ! 0: ANK characters back to normal size only


def lines_of(stream: bytes, chinese_default: bool = False) -> list[D.TextLine]:
    return [e for e in D.decode(stream, chinese_default).events if isinstance(e, D.TextLine)]


# ---------------------------------------------------------------- decoder: character size
def test_esc_bang_zero_leaves_kanji_double_after_gs_bang() -> None:
    stream = (P.INIT + P.KANJI_ON + GS_SIZE_2X2 + P.encode_chinese("标题 T") + b"\n"
              + ESC_NORMAL + P.encode_chinese("正文 body") + b"\n")
    title, body = lines_of(stream)
    assert title.double == "标题 T"
    assert body.text == "正文 body" and body.double == "正文"  # the Chinese body stays large
    assert body.runs == (("正文", 2, 2), (" body", 1, 1))


@pytest.mark.parametrize("reset", [b"\x1d!\x00", b"\x1c!\x00" + ESC_NORMAL, P.INIT + P.KANJI_ON])
def test_gs_bang_zero_or_fs_bang_zero_resets_kanji(reset: bytes) -> None:
    stream = P.INIT + P.KANJI_ON + GS_SIZE_2X2 + P.encode_chinese("标题") + b"\n" + reset
    stream += P.encode_chinese("正文 body") + b"\n"
    assert lines_of(stream)[-1].double == ""


def test_fs_bang_sizes_kanji_only_and_esc_bang_ank_only() -> None:
    fs_double = b"\x1c!\x0c"  # FS ! bits 2 and 3: Kanji double width and height
    esc_double = b"\x1b!\x30"  # ESC ! bits 4 and 5: ANK double height and width
    stream = P.INIT + P.KANJI_ON + fs_double + P.encode_chinese("汉字 ab") + b"\n"
    stream += b"\x1c!\x00" + esc_double + P.encode_chinese("汉字 ab") + b"\n"
    first, second = lines_of(stream)
    assert first.runs == (("汉字", 2, 2), (" ab", 1, 1))
    assert second.runs == (("汉字", 1, 1), (" ab", 2, 2))
    gs_wide = b"\x1d!\x20"  # GS ! 20h: three times as wide, normal height
    assert lines_of(P.INIT + gs_wide + b"x\n")[0].runs == (("x", 3, 1),)


# ---------------------------------------------------------------- decoder: GB2312/GBK only
def test_gb18030_four_byte_sequences_are_not_printable() -> None:
    raw = "¥".encode("gb18030")  # 81 30 84 36: not a GBK character
    assert raw == bytes.fromhex("81308436")
    got = D.decode(P.INIT + P.KANJI_ON + b"Y" + raw + "元".encode("gb18030") + b"\n")
    assert got.lines == ["Y" + D.REPLACEMENT + "元"] and got.unprintable == 1
    ok = D.decode(P.INIT + P.KANJI_ON + P.encode_chinese("¥5 元") + b"\n")
    assert ok.lines == ["￥5 元"] and ok.unprintable == 0


@pytest.mark.parametrize("raw, text, bad", [
    (b"\x81", D.REPLACEMENT, 1),  # a lead byte with nothing after it
    (b"\x81\x30a", D.REPLACEMENT + "0a", 1),  # a lead byte before a digit, not a 4-byte code
    (b"\x80\xff", D.REPLACEMENT * 2, 2),
    (b"\xa3\xa4\xa1\xa3", "￥。", 0),
])  # fmt: skip
def test_chinese_mode_bytes_as_a_gbk_printer_takes_them(raw: bytes, text: str, bad: int) -> None:
    got = D.decode(P.INIT + P.KANJI_ON + raw + b"\n")
    assert (got.lines, got.unprintable) == ([text], bad)


def test_power_up_mode_decides_without_fs_ampersand() -> None:
    stream = P.INIT + P.encode_chinese("户名：张*明") + b"\n"
    assert D.decode(stream, chinese_default=True).lines == ["户名：张*明"]
    assert D.decode(stream).lines != ["户名：张*明"]  # a Western power-up prints code page 437
    assert D.decode(stream + P.KANJI_OFF + "é".encode("cp437") + b"\n", True).lines[-1] == "é"


# ---------------------------------------------------------------- simulator knob
def test_power_up_bench_command_and_constructor() -> None:
    sim = EscPosSimulator()
    assert sim.command("status").endswith("power-up=western")
    assert sim.command("power-up chinese") == "powers up in chinese mode (power cycled)"
    assert sim.command("status").endswith("power-up=chinese")
    assert sim.command("power-up klingon").startswith("error")
    assert sim.command("power-up").startswith("error")
    assert "power-up chinese|western" in sim.command("help")
    sim.on_bytes(P.INIT + "电费".encode("gb18030") + b"\n" + b"\x1dV\x00")
    assert sim.receipts[-1]["lines"] == ["电费"]
    assert EscPosSimulator(chinese_default=True).decoder.chinese


def test_registry_entry_passes_the_power_up_mode_to_the_simulator() -> None:
    entry = registry.entry("escpos")
    assert entry.sim_options(entry.options()) == {"chinese_default": False}
    chinese = entry.options(power_up="chinese")
    sim = entry.simulator()(**entry.sim_options(chinese))
    assert sim.decoder.chinese_default


def test_unprintable_characters_are_counted_and_survive_restart(tmp_path) -> None:
    sim = EscPosSimulator(state_path=tmp_path / "p.json")
    sim.on_bytes(P.INIT + P.KANJI_ON + "¥1".encode("gb18030") + b"\n\x1dV\x00")
    assert sim.receipts[-1]["lines"] == [D.REPLACEMENT + "1"]
    assert EscPosSimulator(state_path=tmp_path / "p.json").counters["unprintable"] == 1


# ---------------------------------------------------------------- the driver over a pty
class Rig:
    def __init__(self, sim: EscPosSimulator) -> None:
        self.sim = sim
        self.port = open_port(sim.start_on_pty(), LineSettings(baudrate=19200))
        self.printer = EscPosPrinter("printer", self.port, status_timeout=TIMEOUT)

    def close(self) -> None:
        self.port.close()
        self.sim.stop()


@pytest.fixture(params=[False, True], ids=["western-power-up", "chinese-power-up"])
def rig(request) -> Iterator[Rig]:
    r = Rig(EscPosSimulator(chinese_default=request.param))
    yield r
    r.close()


def test_only_the_title_is_double_size(rig: Rig) -> None:
    rig.printer.print_job(JOB)
    receipt = rig.sim.wait_receipt(1, timeout=HANG)
    assert receipt["lines"] == PRINTED
    assert receipt["double"] == [JOB.title] + [""] * len(JOB.lines)


def test_yen_prints_on_a_gbk_printer(rig: Rig) -> None:
    rig.printer.print_job(PrintJob(lines=("金额：¥200.00",)))
    receipt = rig.sim.wait_receipt(1, timeout=HANG)
    assert receipt["lines"] == ["金额：￥200.00"]
    assert rig.sim.counters["unprintable"] == 0


def test_a_lost_yen_mapping_shows(rig: Rig, monkeypatch) -> None:
    """What the test above guards: without the GB2312-safe mapping the driver would send
    GB18030's four-byte yen sign, and the printer prints a wrong glyph."""
    monkeypatch.setattr(P, "GB2312_SAFE", {})
    rig.printer.print_job(PrintJob(lines=("金额：¥200.00",)))
    receipt = rig.sim.wait_receipt(1, timeout=HANG)
    assert receipt["lines"] == ["金额：" + D.REPLACEMENT + "200.00"]
    assert rig.sim.counters["unprintable"] == 1


# ---------------------------------------------------------------- decoder: any bytes, any chunks
_PIECES = [P.KANJI_ON, P.KANJI_OFF, GS_SIZE_2X2, ESC_NORMAL, b"\x1c!\x0c", b"\x1d!\x00", b"\n",
           bytes.fromhex("81308436"), b"\xa3\xa4", b"\x81", b"\x81\x30", b"ab", "电费".encode("gbk")]


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.sampled_from(_PIECES) | st.binary(max_size=4), max_size=30),
       cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8),
       chinese=st.booleans())
def test_chinese_decoding_and_sizes_do_not_depend_on_chunking(pieces, cuts, chinese) -> None:
    data = b"".join(pieces)
    whole = D.decode(data, chinese)
    dec = D.EscPosDecoder(chinese)
    events: list[D.Event] = []
    prev = 0
    for c in sorted(set(cuts)) + [len(data)]:
        events += dec.feed(data[prev:c])
        prev = max(prev, c)
    tail = dec.finish()
    assert events + tail.events == whole.events
    assert tail.unprintable == whole.unprintable
    for line in whole.events:
        if isinstance(line, D.TextLine):
            assert "".join(r[0] for r in line.runs) == line.text
            assert all(1 <= w <= 8 and 1 <= h <= 8 for _, w, h in line.runs)
