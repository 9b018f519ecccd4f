"""The CCNET serial link under the driver: the shared bill-validator link
(drivers/bill_validator/common/link.py) with CCNET's acknowledgements.

CCNET manual, section 2.3 ("Transmission and reception message formats") and 2.5 ("Software
operational rules"): the device answers a command with ACK, NAK (it got a bad CRC), ILLEGAL
COMMAND, or a data block; the controller answers a data block with ACK once it has it (or NAK
when the CRC was bad, and the device sends it again).  Used only from the driver's poll thread.
"""

from __future__ import annotations

from typing import Any

from drivers.bill_validator.ccnet import protocol as p
from drivers.bill_validator.common.link import RESEND, STAT_KEYS, LinkDown, SerialLink

__all__ = ["LINE_SETTINGS", "Link", "LinkDown", "is_answer"]

LINE_SETTINGS = p.LINE


def is_answer(frame: p.Frame, expect: str, address: int) -> bool:
    """``ack``: ACK or ILLEGAL COMMAND (a command carried out or refused); ``state``: a well
    formed POLL state; ``data:N``: a block of N bytes, ``data:0`` of any length (or ILLEGAL
    COMMAND)."""
    if frame.address != address or frame.cmd == p.NAK and not frame.data:
        return False
    illegal = frame.cmd == p.ILLEGAL_COMMAND and not frame.data
    if expect == "ack":
        return illegal or (frame.cmd == p.ACK and not frame.data)
    if expect == "state":
        return p.state_data_ok(frame) or illegal
    size = int(expect.partition(":")[2])  # 0: any block longer than one byte
    return illegal or len(frame.body) == size or (size == 0 and len(frame.body) > 1)


class Link(SerialLink):
    PROTOCOL = "CCNET"  # 8N1
    STATS = STAT_KEYS + ("naks_received", "naks_sent", "acks_sent")
    ANSWER = "answer"

    def __init__(self, name: str, port: Any, reply_timeout: float, stats: dict[str, int],
                 address: int = p.ADDR_BILL_VALIDATOR) -> None:
        super().__init__(name, port, reply_timeout, stats, LINE_SETTINGS, p.FrameReader())
        self.address = address

    def transact(self, cmd: int, data: bytes, expect: str, attempts: int) -> p.Frame:
        """Send a command and return its answer; raise LinkDown.  A data answer is *not* ACKed
        here: the caller ACKs it (:meth:`ack`) once it has acted on it, so a bill-stacked event
        is credited before the device is told it may forget it."""
        def match(frame: p.Frame) -> object:
            if frame.cmd == p.NAK and not frame.data and frame.address == self.address:
                self.stats["naks_received"] += 1  # the device got a bad CRC: send again
                return RESEND
            return is_answer(frame, expect, self.address)

        # A garbled data answer is NAKed so that the device repeats it (section 2.3).
        garbled = None if expect == "ack" else self._nak
        return self.exchange(p.encode(cmd, data, self.address), attempts, match,
                             garbled=garbled)

    def ack(self) -> None:
        self.stats["acks_sent"] += 1
        self.send(p.encode(p.ACK, b"", self.address))

    def _nak(self) -> None:
        self.stats["naks_sent"] += 1
        self.send(p.encode(p.NAK, b"", self.address))
