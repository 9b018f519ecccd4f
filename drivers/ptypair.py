"""A raw pty pair standing in for a serial cable: the simulator holds the master end, any program
(our driver, minicom, a vendor tool) opens the slave path like a real /dev/ttyUSB0."""

from __future__ import annotations

import os
import tty
from dataclasses import dataclass


@dataclass
class PtyPair:
    master_fd: int
    slave_fd: int
    slave_path: str

    def close(self) -> None:
        for fd in (self.master_fd, self.slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def open_pty_pair() -> PtyPair:
    master, slave = os.openpty()
    # Raw on both ends: no echo, no line discipline, every byte passes as it is (field notes).
    tty.setraw(master)
    tty.setraw(slave)
    # We keep the slave fd open so the master never sees EOF/EIO while the host reconnects.
    return PtyPair(master, slave, os.ttyname(slave))
