"""A device's first power-up is its start (INFO when normal); a later one happened while the
terminal was running and is a warning."""

from __future__ import annotations

import logging

from drivers import interfaces as d
from kiosk.config import config_from_dict
from kiosk.services.terminal import Terminal


def levels(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == "kiosk.services.terminal" and "powered up" in r.getMessage()]


def test_first_normal_power_up_is_info_a_later_one_a_warning(caplog):
    caplog.set_level(logging.INFO, logger="kiosk.services.terminal")
    term = Terminal(config_from_dict({}), sync=False)
    term.dispatch(d.PowerUp("coin_acceptor", "normal"))
    term.dispatch(d.PowerUp("coin_acceptor", "normal"))
    term.dispatch(d.PowerUp("printer", "bill_in_acceptor"))
    assert levels(caplog) == [
        (logging.INFO, "coin_acceptor powered up (normal) at start"),
        (logging.WARNING, "coin_acceptor powered up (normal) while running"),
        (logging.WARNING, "printer powered up (bill_in_acceptor) at start"),
    ]
