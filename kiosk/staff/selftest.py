"""Maintenance self-tests: printer test page, validator accept test (a note into
escrow and back out), coin test, card-read test.

Each works on a started driver and a ``wait_event(match, timeout)`` that returns the next
matching driver event or None — the CLI builds it over its own event queue, the app over its
event bridge. A test never makes money silently: a note the validator stacks anyway, or a test
coin, comes back in ``money_minor`` for the caller to flag for the operator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from drivers import interfaces as d
from drivers.card_reader.em4100.protocol import mask_uid
from kiosk.flow.money import format_minor

log = logging.getLogger(__name__)

Match = Callable[[d.DeviceEvent], bool]
WaitEvent = Callable[[Match, float], "d.DeviceEvent | None"]
RETURN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SelfTestResult:
    name: str
    ok: bool
    detail: str
    money_minor: int = 0  # value that became money during the test (flag it for the operator)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _of(device: str, *types: type) -> Match:
    return lambda ev: isinstance(ev, types) and ev.device == device


def printer_test_page(printer: Any, kiosk_id: str, now: datetime | None = None) -> SelfTestResult:
    now = now or datetime.now().astimezone()
    job = d.PrintJob(
        title="打印测试 Test page",
        lines=(f"终端 Terminal: {kiosk_id}", f"时间 Time: {now.isoformat(timespec='seconds')}",
               "中文：电费缴费 ¥123.45（测试）", "ASCII: 0123456789 ABCDEFGHIJ"),
        qr=f"TEST:{kiosk_id}")
    try:
        printer.print_job(job)
    except Exception as exc:  # PrinterError says why (paper out, cover open, no answer)
        return SelfTestResult("printer", False, f"test page not printed: {exc}")
    return SelfTestResult("printer", True, "test page printed")


def validator_accept_test(validator: Any, wait_event: WaitEvent, accepted: frozenset[int],
                          timeout_s: float = 30.0) -> SelfTestResult:
    """Enable, take one note into escrow, return it, disable."""
    name = validator.name
    validator.enable(accepted)
    try:
        ev = wait_event(_of(name, d.NoteEscrowed, d.NoteRejected, d.DeviceFault), timeout_s)
        if ev is None:
            return SelfTestResult("validator", False, f"no note inserted within {timeout_s:g} s")
        if isinstance(ev, d.NoteRejected):
            return SelfTestResult("validator", False, f"note rejected: {ev.reason}")
        if isinstance(ev, d.DeviceFault):
            return SelfTestResult("validator", False, f"validator fault: {ev.reason}")
        value = ev.denomination_minor
        validator.return_note()
        out = wait_event(_of(name, d.NoteReturned, d.NoteCredited), RETURN_TIMEOUT_S)
        if isinstance(out, d.NoteReturned):
            return SelfTestResult("validator", True,
                                  f"{format_minor(value)} note recognised, held in escrow and returned")
        if isinstance(out, d.NoteCredited):
            return SelfTestResult("validator", False,
                                  f"{format_minor(value)} note was stacked instead of returned",
                                  money_minor=out.denomination_minor)
        return SelfTestResult("validator", False, f"{format_minor(value)} note not returned in time")
    finally:
        validator.disable()


def coin_test(coins: Any, wait_event: WaitEvent, accepted: frozenset[int],
              timeout_s: float = 30.0) -> SelfTestResult:
    """A coin accepted is in the coin box for good: reported as money to flag."""
    coins.enable(accepted)
    try:
        ev = wait_event(_of(coins.name, d.CoinCredited, d.DeviceFault), timeout_s)
    finally:
        coins.disable()
    if ev is None:
        return SelfTestResult("coin", False, f"no coin inserted within {timeout_s:g} s")
    if isinstance(ev, d.DeviceFault):
        return SelfTestResult("coin", False, f"coin acceptor fault: {ev.reason}")
    return SelfTestResult("coin", True, f"{format_minor(ev.value_minor)} coin recognised",
                          money_minor=ev.value_minor)


def card_read_test(card_reader: str, wait_event: WaitEvent, timeout_s: float = 10.0) -> SelfTestResult:
    """Staff hold a card to the reader. EM4100 readers only talk while a card is in the field,
    so this is the test that tells an unplugged reader from a quiet one."""
    ev = wait_event(_of(card_reader, d.CardPresented), timeout_s)
    if ev is None:
        return SelfTestResult("card", False,
                              f"no card read within {timeout_s:g} s: reader unplugged or faulty "
                              "(or no card was held to it)")
    return SelfTestResult("card", True, f"card {mask_uid(ev.card_uid)} read")
