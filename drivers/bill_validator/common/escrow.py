"""One note from escrow to the cash box or back to the customer, credited exactly once
(docs/promises.md, "a note is credited once"; docs/adding-a-protocol.md, "A bill validator").

A cycle starts only at a new escrow, so the money event a device repeats (over polls, after a
lost acknowledgement, after a reconnect of this driver) is the same note.  What each protocol's
states map to:

============  ===================  ===================  =========================
tracker       ID-003               CCNET                eSSP
============  ===================  ===================  =========================
escrow        ESCROW (0x13)        ESCROW POSITION      READ with a channel
credit        VEND VALID (0x15)    BILL STACKED         NOTE CREDIT
                                   (credit + stacked)
stacked       STACKED (0x16)       --                   STACKED
returned      back to idle         BILL RETURNED        REJECTED after a REJECT
close         idle / reset /       idle / reset /       another READ / cleared
              rejecting            rejecting            after a reset
============  ===================  ===================  =========================

A cycle lives in the driver instance: it survives comm loss, port re-opens and stop()/start(),
not a new instance.  A credit for a note this instance never saw in escrow (the process
restarted) is never guessed at: it is reported as :class:`EventsLost`; de-duplicating across
process restarts is the journal's job (power-up reconciliation), not the driver's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drivers.interfaces import (ChannelMap, EventsLost, NoteCredited, NoteEscrowed,
                                NoteReturned, NoteStacked, Post)

log = logging.getLogger(__name__)


@dataclass
class EscrowCycle:
    """One note: ``channel`` is the protocol's denomination code / bill type / channel."""

    channel: int | None
    value: int | None
    credited: bool = False
    stacked_posted: bool = False
    stack_requested: bool = False
    return_requested: bool = False
    timed_out: bool = False  # the unit stopped holding it by itself
    done: bool = False

    @property
    def decided(self) -> bool:
        return self.stack_requested or self.return_requested or self.timed_out


class EscrowTracker:
    """The escrow cycle of one driver.  ``match_channel``: a credit counts for the cycle only
    when it names the escrowed channel (eSSP); ``lost_on_unconfirmed_stack``: a note sent to
    the stacker that the device never reports stacked is EventsLost, not returned (CCNET)."""

    def __init__(self, name: str, post: Post, channels: ChannelMap, *,
                 match_channel: bool = False, lost_on_unconfirmed_stack: bool = False,
                 channel_word: str = "channel") -> None:
        self.name = name
        self._post = post
        self.channels = channels
        self.match_channel = match_channel
        self.lost_on_unconfirmed_stack = lost_on_unconfirmed_stack
        self.channel_word = channel_word
        self.cycle: EscrowCycle | None = None

    @property
    def open(self) -> bool:
        return self.cycle is not None and not self.cycle.done

    def forget(self) -> None:
        """A power-up: where the note is now is for the journal's reconciliation to decide."""
        self.cycle = None

    def request(self, kind: str) -> None:
        """The host asked to stack or return the note in escrow (if one is)."""
        if self.open:
            assert self.cycle is not None
            if kind == "stack":
                self.cycle.stack_requested = True
            else:
                self.cycle.return_requested = True

    def escrow(self, channel: int, value: int | None) -> bool:
        """A note in escrow (``value`` None: not one we take).  False when it is the note
        already held, seen on another poll."""
        cycle = self.cycle
        if cycle is not None and not cycle.done:
            if cycle.channel == channel:
                return False
            self.close("device")
        self.cycle = EscrowCycle(channel, value)
        if value is not None:
            self._post(NoteEscrowed(self.name, value, channel))
        return True

    def _same(self, cycle: EscrowCycle, channel: int | None) -> bool:
        return not self.match_channel or cycle.channel == channel

    def credit(self, channel: int | None, lost: str, stacked: bool = False) -> bool:
        """The device says the note is money (``channel`` None: it does not say which).  The
        first time in a cycle: NoteCredited (and NoteStacked when ``stacked``: the money
        event is also the cash-box event).  A credit with no escrowed note to match: EventsLost
        with ``lost``.  False for a repeat."""
        cycle = self.cycle
        if cycle is not None and cycle.credited and self._same(cycle, channel):
            return False
        if cycle is not None and not cycle.done and cycle.value is not None \
                and self._same(cycle, channel):
            value = cycle.value
            if channel is not None and channel != cycle.channel:
                log.warning("%s: escrowed %s %s but credited %s %s", self.name,
                            self.channel_word, cycle.channel, self.channel_word, channel)
                value = self.channels.value(channel)
            cycle.credited = True
            cycle.done = cycle.done or stacked
            if value is not None:
                self._post(NoteCredited(self.name, value,
                                        channel if channel is not None else cycle.channel or 0))
                if stacked:
                    cycle.stacked_posted = True
                    self._post(NoteStacked(self.name))
                return True
        else:
            held = cycle.channel if cycle is not None and not cycle.done else None
            self.cycle = EscrowCycle(channel if channel is not None else held, None,
                                     credited=True, stack_requested=True, done=stacked)
        self._post(EventsLost(self.name, 1, lost))
        return True

    def stacked(self) -> None:
        """The device reports the credited note in the cash box."""
        if self.open and self.cycle is not None and self.cycle.credited:
            self.close("stacked")

    def returned(self, why: str) -> None:
        """The device reports the note given back to the customer."""
        cycle = self.cycle
        if cycle is None or cycle.done:
            return  # a repeat, or a note never announced: nothing to undo
        cycle.done = True
        if cycle.value is not None and not cycle.credited:
            self._post(NoteReturned(self.name, cycle.value,
                                    "host" if cycle.return_requested else why))

    def close(self, why: str) -> None:
        """The device is past the note without saying more: a credited note is in the cash
        box, one never credited went back to the customer."""
        cycle = self.cycle
        if cycle is None or cycle.done:
            return
        cycle.done = True
        if cycle.value is None:
            return  # never announced as escrow (unknown code / unseen): nothing to undo
        if cycle.credited:
            if not cycle.stacked_posted:
                cycle.stacked_posted = True
                self._post(NoteStacked(self.name))
            return
        if self.lost_on_unconfirmed_stack and cycle.stack_requested \
                and not cycle.return_requested:
            # Sent to the stacker but never reported stacked: unknown, never guessed.
            self._post(EventsLost(self.name, 1, f"{self.channel_word} {cycle.channel} sent to "
                                  f"the stacker, state now {why}: to be reconciled from the "
                                  "device counters"))
            return
        self._post(NoteReturned(self.name, cycle.value,
                                "host" if cycle.return_requested else why))
