"""The eSSP serial link under the driver: the shared bill-validator link
(drivers/bill_validator/common/link.py) with eSSP's sequence flag and encryption session.

Sequence rule (SSP protocol manual GA138, "Transport Layer"): the host toggles the sequence
flag for every new command and keeps it for a resend; the slave answers a resend with its last
reply without acting on it twice.  SYNC resets it: SYNC goes out with the flag set, so the
next new command carries it clear.  Used only from the driver's poll thread.
"""

from __future__ import annotations

from typing import Any

from drivers.bill_validator.common.link import LinkDown, SerialLink
from drivers.bill_validator.essp import protocol as p
from drivers.bill_validator.essp.crypto import CryptoError, Session

__all__ = ["LINE_SETTINGS", "EncryptionRefused", "KeyLost", "Link", "LinkDown"]

LINE_SETTINGS = p.LINE


class EncryptionRefused(Exception):
    """A reply that must not be believed (wrong key, replayed counter, plaintext where an
    encrypted answer is due).  Never retried: the session is re-keyed."""


class KeyLost(Exception):
    """The slave answers KEY_NOT_SET: it reset and forgot the key."""


class Link(SerialLink):
    PROTOCOL = "eSSP"  # 8N2
    STATS = ("frames_ok", "frames_bad", "stuffing_errors", "bytes_dropped", "timeouts",
             "retries", "unexpected", "port_errors", "crypto_refused", "replays_refused")
    READER_STATS = ("frames_ok", "frames_bad", "stuffing_errors", "bytes_dropped")

    def __init__(self, name: str, port: Any, address: int, reply_timeout: float,
                 stats: dict[str, int]) -> None:
        super().__init__(name, port, reply_timeout, stats, LINE_SETTINGS, p.PacketReader())
        self.address = address
        self.session: Session | None = None
        self._seq = True  # the flag of the last command sent

    # ------------------------------------------------------------ commands
    def sync(self, attempts: int) -> bytes:
        self._seq = False  # so that SYNC itself goes out with the flag set
        self.session = None
        return self.command(bytes([p.SYNC]), attempts, encrypt=False)

    def command(self, data: bytes, attempts: int, encrypt: bool | None = None) -> bytes:
        """Send one command (encrypted once a session exists, unless ``encrypt`` says) and
        return the reply's plain data.  A resend is the same bytes with the same flag."""
        session = self.session if encrypt is not False else None
        self._seq = not self._seq
        payload = session.wrap(data) if session is not None else data
        raw = p.encode(self._seq, self.address, payload)
        name = p.COMMAND_NAMES.get(data[0], f"0x{data[0]:02X}")
        reply = self.exchange(raw, attempts, self._answers, what=name)
        return self._open(reply, session)

    def _answers(self, packet: p.Packet) -> bool:
        return packet.seq == self._seq and packet.address == self.address

    def frame_text(self, frame: Any) -> str:
        return str(frame.encode().hex(" ").upper())

    def _open(self, reply: p.Packet, session: Session | None) -> bytes:
        data = reply.data
        if session is None:
            if data[0] == p.STEX:
                self.stats["crypto_refused"] += 1
                raise EncryptionRefused("encrypted reply to a plain command")
            return data
        if data[0] != p.STEX:
            if data == bytes([p.KEY_NOT_SET]):
                raise KeyLost("validator answers KEY_NOT_SET")
            self.stats["crypto_refused"] += 1
            raise EncryptionRefused("plain reply to an encrypted command")
        try:
            return session.unwrap(data)
        except CryptoError as exc:
            key = "replays_refused" if "eCOUNT" in str(exc) else "crypto_refused"
            self.stats[key] += 1
            raise EncryptionRefused(str(exc)) from exc
