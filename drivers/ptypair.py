"""A raw pty pair standing in for a serial cable: the simulator holds the master end, any program
(our driver, minicom, a vendor tool) opens the slave path like a real /dev/ttyUSB0."""

from __future__ import annotations

import os
import stat
import termios
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
    # Raw on both ends: no echo, no line discipline, every byte passes as it is.
    tty.setraw(master)
    tty.setraw(slave)
    # We keep the slave fd open so the master never sees EOF/EIO while the host reconnects.
    return PtyPair(master, slave, os.ttyname(slave))


_PTY_SLAVE_MAJORS = range(136, 144)  # Linux Unix98 pty slaves (/dev/pts/N)


def nudge_pty(path: object) -> bool:
    """Make a pty accept an 8E1 (re)configuration.  A pty has no parity, and recent kernels
    refuse (EINVAL) a tcsetattr whose only change is PARENB -- which is what pyserial asks for
    when an 8E1 port is opened a second time.  Moving the pty's nominal speed first gives that
    call a change the pty can make.  Real serial ports are never touched.  True if nudged."""
    if not isinstance(path, str) or not path.startswith("/dev/"):
        return False
    try:
        st = os.stat(path)
        if not stat.S_ISCHR(st.st_mode) or os.major(st.st_rdev) not in _PTY_SLAVE_MAJORS:
            return False
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            attrs = termios.tcgetattr(fd)
            attrs[4] = attrs[5] = termios.B38400
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        finally:
            os.close(fd)
    except (OSError, termios.error):
        return False
    return True
