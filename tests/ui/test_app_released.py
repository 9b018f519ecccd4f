"""A closed app is gone: nothing process-wide (Kivy's kv builder, the window) keeps it, its
screens or its terminal alive. Kivy's builder holds each widget's rule bindings until the widget
is collected; the translator those rules bind to led back to the app, so every closed app stayed
reachable (kiosk/ui/i18n.py ``Translator.release``)."""

from __future__ import annotations

import gc
import weakref

import pytest

from tests.billing_server.conftest import billing_server  # noqa: F401
from tests.ui.conftest import make_config, running_kiosk

pytestmark = pytest.mark.ui


def test_a_closed_app_and_its_terminal_are_collected(window, tmp_path, billing_server):  # noqa: F811
    with running_kiosk(window, make_config(tmp_path, billing_server.url), billing_server) as k:
        app, term = weakref.ref(k.app), weakref.ref(k.term)
        screen = weakref.ref(k.app.manager.get_screen("amount"))
        del k
    from kivy.base import EventLoop

    for _ in range(3):  # the clock lets go of the callbacks cancelled at close on its next ticks
        EventLoop.idle()
    gc.collect()
    assert app() is None and term() is None and screen() is None
