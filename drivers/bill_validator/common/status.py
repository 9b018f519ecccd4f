"""What a validator's error status means to the terminal, the same for every protocol: the
fault code the host sees (the same codes whatever the protocol, so the terminal treats them
alike), a reason for the operator, whether it locks the terminal, and whether only its own
"cleared" report ends it (docs/adding-a-protocol.md, "A bill validator").  Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FaultInfo:
    code: str
    reason: str
    locking: bool = True
    latched: bool = False  # cleared only by its own "cleared" event, not by its absence
