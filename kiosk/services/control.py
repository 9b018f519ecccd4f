"""The running terminal's control socket: staff tools on the same box (``kiosk diag``, ``kiosk
faults``, ``kiosk collect``, ``kiosk sync --once``, ``kiosk queue``) ask the terminal that holds
the ports instead of opening them a second time (docs/architecture.md, Staff tools and the
running terminal).

A Unix stream socket in the state directory, mode 0600 in a 0700 folder: only the terminal's own
account reaches it. One request per connection, one JSON object per line each way. The threads
here only read and write: every request is handed to ``handle(request, reply)``, which the
terminal runs on its deciding thread (``Terminal.call_soon``); ``reply`` may be called later and
from another thread (a sync pass, a card tap)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
MAX_REQUEST = 64 * 1024  # a request is a few fields; anything longer is not one
REPLY_TIMEOUT_S = 60.0

Reply = Callable[[dict[str, Any]], None]


def socket_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / SOCKET_NAME


#: a Unix socket address holds about 107 bytes (unix(7), sun_path)
MAX_ADDRESS = 100


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits: a long one goes through the folder's descriptor
    (/proc/self/fd/N/name, Linux), so a deep state directory still works."""
    if len(os.fsencode(str(path))) <= MAX_ADDRESS:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


class ControlUnavailable(Exception):
    """No terminal answers on the socket (not running, or a socket left by a crash)."""


def ask(path: str | os.PathLike[str], request: dict[str, Any],
        timeout: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
    """One request to the running terminal; ControlUnavailable when none listens."""
    if not Path(path).exists():
        raise ControlUnavailable(f"no control socket at {path}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            with _address(Path(path)) as address:
                sock.connect(address)
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise ControlUnavailable(f"no terminal listens on {path}: {exc}") from None
        sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
        with sock.makefile("rb") as fh:
            line = fh.readline(MAX_REQUEST * 16)
    finally:
        sock.close()
    if not line:
        raise ControlUnavailable(f"the terminal on {path} closed the connection without an answer")
    answer = json.loads(line)
    if not isinstance(answer, dict):
        raise ControlUnavailable(f"the terminal on {path} answered {type(answer).__name__}")
    return answer


class ControlServer:
    def __init__(self, path: str | os.PathLike[str],
                 handle: Callable[[dict[str, Any], Reply], None]) -> None:
        self.path = Path(path)
        self.handle = handle
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            try:
                ask(self.path, {"op": "ping"}, timeout=2.0)
            except (ControlUnavailable, OSError, ValueError):
                self.path.unlink()  # left by a crash: nobody answers on it
            else:
                raise RuntimeError(f"another terminal answers on {self.path}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Created 0600 whatever the umask: bind makes the file with the process umask applied.
        old = os.umask(0o177)
        try:
            with _address(self.path) as address:
                sock.bind(address)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(8)
        sock.settimeout(0.2)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), name="control-conn",
                             daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        done = threading.Event()
        answer: list[dict[str, Any]] = []

        def reply(obj: dict[str, Any]) -> None:
            if not done.is_set():
                answer.append(obj)
                done.set()

        try:
            conn.settimeout(10.0)
            with conn.makefile("rb") as fh:
                line = fh.readline(MAX_REQUEST)
            request: Any = None
            try:
                request = json.loads(line)
                if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                    raise ValueError("a request is a JSON object with an op")
            except ValueError as exc:
                reply({"ok": False, "error": "bad_request", "message": str(exc)})
            else:
                try:
                    self.handle(request, reply)
                except Exception as exc:  # a bad request must not take the socket down
                    log.exception("control request %s failed", request.get("op"))
                    reply({"ok": False, "error": "internal", "message": str(exc)})
            timeout = min(float(request.get("timeout_s", REPLY_TIMEOUT_S)), 600.0) \
                if isinstance(request, dict) and isinstance(request.get("timeout_s"), (int, float)) \
                else REPLY_TIMEOUT_S
            if not done.wait(timeout + 5.0):
                reply({"ok": False, "error": "timeout", "message": "the terminal did not answer"})
            conn.sendall(json.dumps(answer[0], ensure_ascii=False).encode("utf-8") + b"\n")
        except OSError as exc:
            log.info("control connection ended: %s", exc)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
