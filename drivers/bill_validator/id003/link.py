"""The ID-003 serial link under the driver: the shared bill-validator link
(drivers/bill_validator/common/link.py) with ID-003's rule of which frame answers which
question.  Used only from the driver's poll thread (one thread owns the port).
"""

from __future__ import annotations

from typing import Any

from drivers.bill_validator.common.link import LinkDown, SerialLink
from drivers.bill_validator.id003 import protocol as p

__all__ = ["LINE_SETTINGS", "Link", "LinkDown", "is_reply"]

LINE_SETTINGS = p.LINE


def is_reply(frame: p.Frame, sent: bytes, expect: str) -> bool:
    """Whether ``frame`` answers ``sent``: any well-formed status for a status request, ACK
    for an operation command, the echo for a setting command, the same command code with data
    for a read request (setting status, version); INVALID COMMAND for any but the first."""
    if expect == "status":
        if frame.cmd == p.ACK or frame.cmd in p.SETTING_COMMANDS:
            return False
        return p.status_data_ok(frame)
    if frame.cmd == p.INVALID_COMMAND and not frame.data:
        return True
    if expect == "ack":
        return frame.cmd == p.ACK and not frame.data
    if expect == "read":
        return frame.cmd == sent[2] and bool(frame.data)
    return frame.encode() == sent


class Link(SerialLink):
    PROTOCOL = "ID-003"  # 8E1

    def __init__(self, name: str, port: Any, reply_timeout: float, stats: dict[str, int]) -> None:
        super().__init__(name, port, reply_timeout, stats, LINE_SETTINGS, p.FrameReader())

    def transact(self, raw: bytes, expect: str, attempts: int) -> p.Frame:
        """Send ``raw`` and return the first reply of the ``expect`` kind; raise LinkDown."""
        return self.exchange(raw, attempts, lambda frame: is_reply(frame, raw, expect))
