"""Fault modes of the reference payment gateway (docs/payment-gateway.yaml, "Faults"):

  none          normal service: a charge is paid at once
  decline       a charge is answered ``failed`` (reason ``declined``); nothing is charged
  user_paying   a charge is answered ``user_paying`` and becomes ``paid`` after ARG queries
                (the resident confirming on the phone)
  timeout       the charge is recorded as paid, then the connection is closed unanswered
  duplicate     every charge request is applied twice, as a retransmission would be: the
                second must be a replay (idempotent by order id), never a second charge
  500           a charge is answered 500 and nothing is recorded

``MODE[:ARG]``: ARG is the polls for ``user_paying`` (default 2), otherwise how many of the next
charges misbehave (default: all).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

MODES = ("none", "decline", "user_paying", "timeout", "duplicate", "500")


@dataclass(frozen=True)
class Fault:
    mode: str = "none"
    count: int | None = None  # None: every charge until changed
    polls: int = 2  # user_paying: queries before the order is paid

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; one of {', '.join(MODES)}")
        if self.count is not None and (isinstance(self.count, bool) or self.count < 1):
            raise ValueError("count must be a positive integer")
        if isinstance(self.polls, bool) or not 1 <= self.polls <= 100:
            raise ValueError("polls must be 1 to 100")


def parse_fault(text: str) -> Fault:
    mode, sep, arg = text.strip().partition(":")
    if not sep:
        return Fault(mode)
    try:
        number = int(arg)
    except ValueError:
        raise ValueError(f"{arg!r} is not a whole number") from None
    return Fault(mode, polls=number) if mode == "user_paying" else Fault(mode, count=number)


class FaultSwitch:
    """The fault in force; ``take()`` hands it to one charge and counts it down."""

    def __init__(self, fault: Fault | None = None) -> None:
        self._lock = threading.Lock()
        self._fault = fault or Fault()
        self._left = self._fault.count

    def set(self, fault: Fault) -> None:
        with self._lock:
            self._fault, self._left = fault, fault.count

    def take(self) -> Fault:
        with self._lock:
            fault = self._fault
            if fault.mode == "none":
                return fault
            if self._left is not None:
                self._left -= 1
                if self._left <= 0:
                    self._fault, self._left = Fault(), None
            return fault
