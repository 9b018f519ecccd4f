"""Receipt printer behaviour over a port: real-time status (DLE EOT 1/2/4, silence = unknown,
never OK), and receipts in Chinese mode (FS &, GB18030 text) with a native QR code and a cut."""

from __future__ import annotations

import logging
import threading

import serial
from escpos.constants import QR_ECLEVEL_M
from escpos.exceptions import Error as EscposError

from drivers.errors import FrameError, PortError
from drivers.interfaces import (
    Health,
    HealthState,
    PaperState,
    PrinterError,
    PrinterStatus,
    PrintJob,
)
from drivers.printer.escpos import protocol as P
from drivers.printer.escpos.connector import PortEscpos

log = logging.getLogger(__name__)

UNKNOWN_STATUS = PrinterStatus(online=None, cover_open=None, paper=PaperState.UNKNOWN)


def status_reason(st: PrinterStatus) -> str:
    """Why the printer cannot print (most specific first), or "" when it can."""
    if st.cover_open:
        return "cover open"
    if st.paper is PaperState.OUT:
        return "paper out"
    if st.online is False:
        return "printer offline"
    if st.online is None or st.cover_open is None or st.paper is PaperState.UNKNOWN:
        return "printer not answering (status unknown)"
    return ""


class EscPosPrinter:
    """drivers.interfaces.ReceiptPrinter over an open pyserial port.  One lock serialises status
    requests and print jobs, so the UI may ask for status while another thread prints."""

    def __init__(
        self,
        name: str,
        port: serial.SerialBase,
        status_timeout: float = 0.3,
        chinese: bool = True,
        qr_size: int = 6,
        profile: str | None = None,
        owns_port: bool = False,
    ) -> None:
        self.name = name
        self.chinese = chinese
        self.qr_size = qr_size
        self.port = port
        #: close ``port`` on stop() (the driver was given it to keep)
        self.owns_port = owns_port
        self._esc = PortEscpos(port, read_timeout=status_timeout, profile=profile)
        self._lock = threading.Lock()
        self.last_status: PrinterStatus = UNKNOWN_STATUS
        #: status bytes that failed the fixed-bit check (noise, misaligned answers)
        self.invalid_answers = 0
        self._resync = False  # an earlier request went unanswered or was answered with noise

    def stop(self) -> None:
        """Nothing runs on its own; an owned port is closed."""
        if self.owns_port:
            with self._lock:
                self.port.close()

    # ---------------------------------------------------------------- status
    def status(self) -> PrinterStatus:
        with self._lock:
            return self._status_locked()

    def _ask(self, n: int) -> P.StatusByte | None:
        """One DLE EOT n exchange.  A byte failing the fixed bits counts as no answer; we let
        the line settle and ask once more, since noise just before the answer is the usual cause."""
        for attempt in (1, 2):
            if self._resync:
                self._esc.settle(quiet=self._esc.read_timeout, limit=4 * self._esc.read_timeout)
                self._resync = False
            else:
                self._esc.drain_input()
            raw = self._esc.query_status(P.status_request(n))
            if not raw:
                self._resync = True  # the answer may still come: don't take it for the next one
                return None
            try:
                return P.decode_status(n, raw[0])
            except FrameError as exc:
                self.invalid_answers += 1
                self._resync = True
                log.warning("printer %s: %s (attempt %d)", self.name, exc, attempt)
        return None

    def _status_locked(self) -> PrinterStatus:
        answers: dict[int, P.StatusByte] = {}
        try:
            for n in (1, 2, 4):
                got = self._ask(n)
                if got is None:
                    break  # a silent printer stays silent: don't wait out every request
                answers[n] = got
        except PortError as exc:
            log.warning("printer %s: %s", self.name, exc)
        a1, a2, a4 = answers.get(1), answers.get(2), answers.get(4)
        st = P.combine_status(
            a1 if isinstance(a1, P.PrinterByte) else None,
            a2 if isinstance(a2, P.OfflineCause) else None,
            a4 if isinstance(a4, P.PaperSensor) else None,
        )
        if st != self.last_status:
            log.info("printer %s status: %s", self.name, st)
        self.last_status = st
        return st

    def health(self) -> Health:
        st = self.status()
        reason = status_reason(st)
        if st.cover_open or st.paper is PaperState.OUT or st.online is False:
            return Health(HealthState.FAULT, reason)
        if reason:
            return Health(HealthState.UNKNOWN, reason)
        if st.paper is PaperState.NEAR_END:
            return Health(HealthState.DEGRADED, "paper near end")
        return Health(HealthState.OK)

    # ---------------------------------------------------------------- printing
    def print_job(self, job: PrintJob) -> None:
        """Print ``job`` or raise PrinterError saying why.  Status is checked before (nothing is
        sent to a printer that cannot print) and after (paper running out mid-receipt)."""
        with self._lock:
            before = self._status_locked()
            if not before.can_print:
                raise PrinterError(status_reason(before))
            try:
                with self._esc.batch():
                    self._render(job)
                self._esc.wait_sent()
            except (PortError, ValueError, EscposError) as exc:
                raise PrinterError(f"printing failed: {exc}") from exc
            # DLE EOT is answered on receipt; the simulator (and a printer with an empty buffer)
            # answers after the job, a busy printer may answer before printing the end of it.
            # Epson's ESC/POS reference (DLE EOT): the status is sent when the printer *receives*
            # the request, and the request is behind the whole job on the line.  tcdrain above
            # returns once the bytes left the host, and a USB-serial adapter still holds up to
            # its FIFO; at 9600 baud a 1 KB receipt is about a second on the wire.  So the
            # first answer after a job may take the job's transmit time longer than usual;
            # without that allowance a long receipt reads as "printer not answering".
            self._esc.extra_wait = self._esc.transmit_time(self._esc.last_batch_bytes)
            after = self._status_locked()
            self._esc.extra_wait = 0.0  # left unused if the port failed before the read
            if not after.can_print:
                raise PrinterError(f"receipt may be incomplete: {status_reason(after)}")

    def _text(self, line: str) -> None:
        if self.chinese:
            self._esc.send(P.encode_chinese(line) + b"\n")
        else:
            self._esc.textln(P.clean_text(line))

    def _render(self, job: PrintJob) -> None:
        esc = self._esc
        esc.reset()
        if self.chinese:
            # Chinese mode explicitly: a printer that powers up in another mode would print the
            # GB18030 bytes as code-page characters.
            esc.send(P.KANJI_ON)
        if job.title:
            # GS ! scales Kanji and ASCII alike; ESC ! would leave Chinese glyphs small.
            esc.set(align="center", bold=True, custom_size=True, width=2, height=2)
            self._text(job.title)
            esc.set_with_default()
            # python-escpos resets with ESC ! 0, which sizes alphanumeric characters only.  By
            # Epson's rules (ESC/POS Command Reference, "GS !" and "FS !") the Kanji size is
            # set by GS ! and FS !, the last one received winning, so the Chinese body would
            # stay double size: reset it with both.
            esc.send(P.SIZE_NORMAL)
            if self.chinese:
                esc.send(P.KANJI_SIZE_NORMAL)
        for line in job.lines:
            self._text(line)
        if job.qr:
            esc.set(align="center")
            # GS ( k, rendered by the printer, at error correction M: the signed receipt QR is
            # sized to fit a 58 mm roll at M (python-escpos would send L by default).
            esc.qr(job.qr, native=True, size=self.qr_size, ec=QR_ECLEVEL_M)
            esc.set(align="left")
        if self.chinese:
            esc.send(P.KANJI_OFF)
        if job.cut:
            esc.cut()  # ESC d 6 (feed past the cutter) + GS V 0
