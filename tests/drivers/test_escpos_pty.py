"""EscPosPrinter against EscPosSimulator over a real pty pair: every printer status (silence is
unknown, never OK), a Chinese receipt with QR decoded exactly, refusals, paper running out
mid-receipt, noise and late answers on the line, and status/print from two threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from drivers.interfaces import HealthState, PaperState, PrinterError, PrintJob
from drivers.printer.escpos.driver import EscPosPrinter
from drivers.printer.escpos.simulator import EscPosSimulator
from drivers.transport import LineSettings, SimulatorHub, open_port
from tests.conftest import wait_until

#: the driver's status deadline.  Every answered request must come within it on a busy machine
#: too (the simulator is a thread of this process), so it is generous; tests of silence pay it.
TIMEOUT = 1.0
#: bounds a hang only
HANG = 30.0
JOB = PrintJob(
    title="电费缴费凭条",
    lines=(
        "终端：KS-0007  流水号：20240501-0042",
        "户号：3301****5678",
        "户名：张*明",
        "本次缴费：¥200.00（贰佰元整）",
        "余额：¥35.50；欠费：¥0.00。",
        "「请妥善保管」、谢谢！",
        "Paid 200.00 CNY",
    ),
    qr="https://pay.example/r/20240501-0042?t=KS-0007",
)
PRINTED = [JOB.title] + [line.replace("¥", "￥") for line in JOB.lines]


class Rig:
    def __init__(self, sim: EscPosSimulator, chinese: bool = True) -> None:
        self.sim = sim
        path = sim.start_on_pty()
        self.port = open_port(path, LineSettings(baudrate=19200))
        self.printer = EscPosPrinter("printer", self.port, status_timeout=TIMEOUT, chinese=chinese)

    def close(self) -> None:
        self.port.close()
        self.sim.stop()


@pytest.fixture
def rig(tmp_path) -> Iterator[Rig]:
    r = Rig(EscPosSimulator(state_path=tmp_path / "printer.json"))
    yield r
    r.close()


# ---------------------------------------------------------------- status
def test_ready(rig: Rig) -> None:
    st = rig.printer.status()
    assert (st.online, st.cover_open, st.paper) == (True, False, PaperState.OK)
    assert st.can_print
    assert rig.printer.health().state is HealthState.OK


@pytest.mark.parametrize(
    "knob, online, cover, paper, health, reason",
    [
        (
            "paper near-end",
            True,
            False,
            PaperState.NEAR_END,
            HealthState.DEGRADED,
            "paper near end",
        ),
        ("paper out", False, False, PaperState.OUT, HealthState.FAULT, "paper out"),
        ("cover open", False, True, PaperState.OK, HealthState.FAULT, "cover open"),
        ("offline", False, False, PaperState.OK, HealthState.FAULT, "printer offline"),
    ],
)
def test_each_status(rig: Rig, knob, online, cover, paper, health, reason) -> None:
    rig.sim.command(knob)
    st = rig.printer.status()
    assert (st.online, st.cover_open, st.paper) == (online, cover, paper)
    assert st.can_print is (paper is PaperState.NEAR_END)
    h = rig.printer.health()
    assert (h.state, h.reason) == (health, reason)


def test_muted_printer_is_unknown_never_ok(rig: Rig) -> None:
    rig.sim.command("mute")
    st = rig.printer.status()
    assert st.online is None and st.cover_open is None
    assert st.paper is PaperState.UNKNOWN and st.paper is not PaperState.OK
    assert not st.can_print
    assert rig.printer.health().state is HealthState.UNKNOWN
    rig.sim.command("unmute")
    assert rig.printer.status().can_print  # a round trip: every earlier request has been seen
    # Stops at the first silence: status() and health() asked DLE EOT 1 once each, not 1, 2, 4;
    # then the answered status() asked all three.
    assert rig.sim.counters["status_requests"] == 1 + 1 + 3


def test_dropped_answer_is_unknown_then_recovers(rig: Rig) -> None:
    rig.sim.command("drop 1")
    assert rig.printer.status().paper is PaperState.UNKNOWN
    assert rig.printer.status().can_print


class LateSim(EscPosSimulator):
    """Keeps its answers back while ``holding``; ``release`` sends them: a printer whose answer
    comes after the host gave up waiting for it."""

    holding = False

    def __init__(self) -> None:
        super().__init__()
        self.held = bytearray()

    def on_bytes(self, data: bytes) -> bytes:
        reply = super().on_bytes(data)
        if self.holding:
            self.held += reply
            return b""
        return reply

    def release(self) -> None:
        self.holding = False
        late, self.held = bytes(self.held), bytearray()
        self.inject(late)


def test_late_answer_is_not_taken_for_another_request() -> None:
    sim = LateSim()
    r = Rig(sim)
    try:
        sim.command("cover open")
        sim.holding = True
        assert r.printer.status().online is None  # its answer is held back past the deadline
        # The late answer reaches the line as the driver lets it settle before the next request.
        settle = r.printer._esc.settle

        def settle_with_late_answer(*args, **kwargs):
            wait_until(lambda: sim.held, timeout=HANG, what="the unanswered request seen")
            sim.release()
            return settle(*args, **kwargs)

        r.printer._esc.settle = settle_with_late_answer
        st = r.printer.status()  # the late 0x1E for "printer status" must not answer "paper"
        assert (st.online, st.cover_open, st.paper) == (False, True, PaperState.OK)
        assert sim.counters["status_requests"] == 1 + 3
    finally:
        r.close()


def test_noise_waiting_before_status_request(rig: Rig) -> None:
    rig.sim.command("noise 12 1e 72 ff 00")  # includes bytes that pass the fixed-bit check
    wait_until(lambda: rig.port.in_waiting >= 5, timeout=HANG, what="the noise on the line")
    st = rig.printer.status()
    assert (st.online, st.cover_open, st.paper) == (True, False, PaperState.OK)


class GarblingSim(EscPosSimulator):
    """Puts a noise byte in front of the next ``garble`` answers."""

    garble = 0

    def on_bytes(self, data: bytes) -> bytes:
        reply = super().on_bytes(data)
        if reply and self.garble:
            self.garble -= 1
            return b"\xff" + reply
        return reply


def test_noise_in_front_of_an_answer_is_rejected_and_asked_again() -> None:
    sim = GarblingSim()
    sim.paper = PaperState.NEAR_END
    r = Rig(sim)
    try:
        sim.garble = 1
        st = r.printer.status()
        assert st.paper is PaperState.NEAR_END and st.online is True
        assert r.printer.invalid_answers == 1
        sim.garble = 10  # noise in front of every answer: no valid status, so unknown
        assert not r.printer.status().can_print
    finally:
        r.close()


# ---------------------------------------------------------------- printing
def test_chinese_receipt_with_qr_printed_exactly(rig: Rig) -> None:
    rig.printer.print_job(JOB)
    receipt = rig.sim.wait_receipt(1, timeout=HANG)
    assert receipt["lines"] == PRINTED
    assert receipt["qr"] == [JOB.qr]
    assert rig.sim.decoder.unknown == 0 and rig.sim.counters["unknown"] == 0
    assert rig.sim.counters["receipts"] == 1 and rig.sim.counters["cuts"] == 1
    assert rig.sim.counters["lines"] == len(PRINTED)


def test_printer_not_in_chinese_mode_garbles_chinese(rig: Rig) -> None:
    # The same job through python-escpos's own text path (no FS &): what we must not do.
    plain = EscPosPrinter("plain", rig.port, status_timeout=TIMEOUT, chinese=False)
    plain.print_job(JOB)
    assert rig.sim.wait_receipt(1, timeout=HANG)["lines"] != PRINTED


def test_latin_receipt_without_chinese_mode(rig: Rig) -> None:
    plain = EscPosPrinter("plain", rig.port, status_timeout=TIMEOUT, chinese=False)
    plain.print_job(PrintJob(title="RECEIPT", lines=("Grüße", "Total ¥ 12.50"), qr="42"))
    receipt = rig.sim.wait_receipt(1, timeout=HANG)
    assert receipt == {"lines": ["RECEIPT", "Grüße", "Total ¥ 12.50"],
                       "double": ["RECEIPT", "", ""], "qr": ["42"]}


@pytest.mark.parametrize(
    "knob, reason",
    [("paper out", "paper out"), ("cover open", "cover open"), ("offline", "printer offline"),
     ("mute", "status unknown")],
)  # fmt: skip
def test_print_refused(rig: Rig, knob: str, reason: str) -> None:
    rig.sim.command(knob)
    with pytest.raises(PrinterError, match=reason):
        rig.printer.print_job(JOB)
    rig.sim.command("unmute")
    rig.printer.status()  # a round trip: every byte the driver sent has been decoded
    assert rig.sim.receipts == []
    assert rig.sim.counters["lines"] == 0 and rig.sim.counters["spoiled"] == 0  # nothing sent


def test_paper_runs_out_during_print(rig: Rig) -> None:
    rig.sim.command("paper out-after 3")
    with pytest.raises(PrinterError, match="incomplete: paper out"):
        rig.printer.print_job(JOB)
    assert rig.sim.receipts == []
    assert rig.sim.counters["receipts"] == 0 and rig.sim.counters["spoiled"] == 1
    assert rig.sim.counters["lines"] == 3
    assert rig.printer.status().paper is PaperState.OUT
    rig.sim.command("paper ok")  # staff load a new roll; the reprint is whole
    rig.printer.print_job(JOB)
    assert rig.sim.wait_receipt(1, timeout=HANG)["lines"] == PRINTED
    assert len(rig.sim.receipts) == 1


def test_status_and_print_from_two_threads(rig: Rig) -> None:
    errors: list[BaseException] = []
    statuses = []

    def poll() -> None:
        try:
            for _ in range(25):
                statuses.append(rig.printer.status())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    t = threading.Thread(target=poll)
    t.start()
    for _ in range(3):
        rig.printer.print_job(JOB)
    t.join(timeout=HANG)
    assert not errors and not t.is_alive()
    assert all(s.can_print and s.paper is PaperState.OK for s in statuses)
    assert [r["lines"] for r in rig.sim.receipts] == [PRINTED] * 3
    assert rig.printer.invalid_answers == 0


def test_port_by_sim_url(tmp_path) -> None:
    hub = SimulatorHub(state_dir=str(tmp_path))
    port = open_port("sim://printer", LineSettings())
    try:
        printer = EscPosPrinter("printer", port, status_timeout=TIMEOUT)
        printer.print_job(PrintJob(lines=("一行",), qr=None))
        assert hub.get("printer").wait_receipt(1, timeout=HANG) == {
            "lines": ["一行"], "double": [""], "qr": []}
    finally:
        port.close()
        hub.stop()
    assert (tmp_path / "printer.json").exists()
