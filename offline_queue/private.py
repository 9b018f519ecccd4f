"""Private files (docs/security.md, Files): what the terminal writes holds PIN hashes, account
numbers and keys, so it is created 0600 in 0700 folders whatever the umask, and a database or
key file that group or others can read is refused at start-up rather than used."""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
#: the process umask every entry point sets: nothing the terminal creates is readable by others
UMASK = 0o077


def private_dirs(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and every missing parent as 0700; folders that already exist are left
    as they are (the operator's working folder is not ours to change)."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(folder, DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened
    return path


def touch_private(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` empty as 0600 (its folders 0700) if it does not exist; never changes an
    existing file, whose mode start-up checks instead."""
    path = Path(path)
    private_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def readable_by_others(path: str | os.PathLike[str]) -> bool:
    try:
        return bool(os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except FileNotFoundError:
        return False


def exposure(path: str | os.PathLike[str], what: str) -> str | None:
    """One line saying why ``path`` may not be used, or None when it is private (or absent)."""
    if not readable_by_others(path):
        return None
    mode = stat.S_IMODE(os.stat(path).st_mode)
    return (f"{what} {path} is mode {mode:04o}: group or others can read it; "
            f"run `chmod 600 {path}` (or set kiosk.allow_shared_files = true, docs/security.md)")
