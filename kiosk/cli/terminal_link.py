"""Staff commands and the running terminal: when a terminal (``kiosk run``, ``kiosk demo``, the
app) runs on the same database, a command asks it over its control socket
(kiosk.services.control), so the ports are never opened twice and what staff do takes effect in
the running terminal at once; when none runs, the command works on the database as before."""

from __future__ import annotations

import argparse
from typing import Any

from kiosk.cli.config_args import config
from kiosk.cli.staff_access import read_pin
from kiosk.config import ConfigError
from kiosk.services.control import ControlUnavailable, ask, socket_path
from kiosk.staff.errors import StaffError

#: answers that mean "not this terminal": the command falls back to the database
NOT_HERE = frozenset({"other_database"})


class TerminalRefused(StaffError):
    """The running terminal refused for a staff reason (wrong PIN, permission, no such fault)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def command_config(args: argparse.Namespace) -> Any:
    return config(args, db=getattr(args, "db", None), api=getattr(args, "api", None),
                  state_dir=getattr(args, "state_dir", None))


def ask_terminal(args: argparse.Namespace, op: str, user: str | None = None,
                 timeout_s: float | None = None, **fields: Any) -> dict[str, Any] | None:
    """The running terminal's answer to ``op``, or None when no terminal runs on this database.
    With ``user`` the PIN is read from stdin and checked by the terminal."""
    cfg = command_config(args)
    path = socket_path(cfg.kiosk.state_dir)
    if not path.exists():
        return None
    request: dict[str, Any] = {"op": op, "db": cfg.kiosk.db, **fields}
    if timeout_s is not None:
        request["timeout_s"] = timeout_s
    try:
        ping = ask(path, {"op": "ping", "db": cfg.kiosk.db}, timeout=5.0)  # before a PIN is read
    except (ControlUnavailable, OSError, ValueError):
        return None
    if not ping.get("ok"):
        return None
    if user is not None:
        request["user"] = user
        request["pin"] = read_pin(f"PIN for {user}: ")
    try:
        answer = ask(path, request, timeout=(timeout_s or 60.0) + 10.0)
    except (ControlUnavailable, OSError, ValueError):
        return None
    if answer.get("ok"):
        return answer
    code, message = str(answer.get("error")), str(answer.get("message", ""))
    if code in NOT_HERE:
        return None
    if code in ("bad_input", "bad_request"):
        raise ConfigError(message)
    raise TerminalRefused(code, message)


def require_user(user: str | None) -> str:
    if not user:
        raise ConfigError("--user: the staff id to act as (its PIN is read from stdin)")
    return user
