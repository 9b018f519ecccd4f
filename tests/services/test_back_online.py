"""The offline banner goes as soon as the network is back: the terminal learned it was offline
from a failed lookup (nothing queued, so no delivery would ever say otherwise), and the sync
thread's health probe flips it back within one pass (docs/promises.md: the offline banner)."""

from __future__ import annotations

from tests.billing_server.conftest import billing_server  # noqa: F401
from tests.services.test_terminal import CARD, terminal  # noqa: F401


def test_banner_goes_once_the_server_answers_again(terminal, billing_server):
    term = terminal
    billing_server.set_fault("reset", paths="/v1")  # the network is down
    term.hub.get("card-reader").present(CARD)
    assert term.pump(lambda s: not s.queue.online and s.message == "unknown_card_offline", 10)
    term.hub.get("card-reader").remove()
    assert not term.pump(lambda s: s.queue.online, 0.5)  # still down: the probe says so
    billing_server.set_fault("none")
    assert term.pump(lambda s: s.queue.online, 5)  # one sync pass (0.2 s here), not a cooldown
    assert term.online
