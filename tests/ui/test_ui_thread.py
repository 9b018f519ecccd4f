"""The UI thread only draws: during a whole payment by touch it makes no serial, SQLite or HTTP
call (the seams are instrumented with a profiler on that thread alone), and a note in escrow is
on screen the frame after the deciding thread saw it."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import sys
import threading

import pytest

from billing_server.seed import DEMO_ACCOUNTS, DEMO_CARDS
from tests.ui.test_faults import to_insert

pytestmark = pytest.mark.ui

ACC = DEMO_ACCOUNTS[0]
CARD = next(uid for uid, acct in DEMO_CARDS.items() if acct == ACC.account_no)
#: Python code that only ever does I/O (or exists to): nothing in them may run on the UI thread
IO_PACKAGES = ("/serial/", "/requests/", "/urllib3/", "/sqlite_utils/", "/http/client.py",
               "/offline_queue/", "/drivers/")


class IoWatch:
    """A profiler on the calling thread that records every I/O seam it crosses."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.calls = 0

    def __call__(self, frame, event, arg) -> None:
        self.calls += 1
        if event == "call":
            path = frame.f_code.co_filename
            if any(p in path for p in IO_PACKAGES):
                self.seen.append(f"{path}:{frame.f_code.co_name}")
        elif event == "c_call":
            owner = getattr(arg, "__self__", None)
            if isinstance(owner, (sqlite3.Connection, sqlite3.Cursor, socket.socket)):
                self.seen.append(f"{type(owner).__name__}.{arg.__name__}")
            elif arg in (os.read, os.write, sqlite3.connect):
                self.seen.append(f"os.{arg.__name__}")

    @contextlib.contextmanager
    def paused(self):
        """The test playing the resident (a card on the reader, a note in the slot) is not the
        app: those calls run on this thread too, unwatched."""
        sys.setprofile(None)
        try:
            yield
        finally:
            sys.setprofile(self)

    def unwatched(self, fn):
        with self.paused():
            return fn()

    def __enter__(self) -> "IoWatch":
        assert threading.current_thread() is threading.main_thread()
        sys.setprofile(self)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(None)


def test_a_whole_journey_does_no_io_on_the_ui_thread(kiosk):
    reader, validator = kiosk.hub.get("card-reader"), kiosk.hub.get("bill-validator")
    with IoWatch() as watch:
        with watch.paused():
            reader.present(CARD)
        kiosk.wait_screen("account")
        with watch.paused():
            reader.remove()
        kiosk.press("continue")
        kiosk.wait_screen("amount")
        kiosk.press("pay")
        kiosk.wait_screen("insert")
        for note in (10_000, 5_000):
            before = kiosk.session.credited_minor
            kiosk.pump(lambda: watch.unwatched(lambda: validator.ready_for_note), 10,
                       "validator free")
            with watch.paused():
                validator.insert_note(note)
            kiosk.pump(lambda: kiosk.session.credited_minor > before, 10, "note credited")
        kiosk.press("finish")
        kiosk.wait_screen("done")
        kiosk.pump(lambda: kiosk.session.printed is True, 10, "receipt printed")
        kiosk.press("continue")
        kiosk.wait_screen("rating")
        kiosk.press("rate5")
        kiosk.wait_screen("attract")
    assert watch.calls > 1000  # the profiler really watched the journey
    assert watch.seen == [], sorted(set(watch.seen))[:20]


def test_the_watch_sees_io_when_there_is_some(tmp_path):
    """The instrument itself: a query and a socket on this thread are caught."""
    with IoWatch() as watch:
        conn = sqlite3.connect(str(tmp_path / "x.db"))
        conn.execute("SELECT 1").fetchone()
        conn.close()
        s = socket.socket()
        s.close()
    assert any("execute" in x for x in watch.seen) and any("socket" in x for x in watch.seen)


def test_a_note_in_escrow_shows_the_frame_after_the_deciding_thread_saw_it(kiosk):
    from kivy.clock import Clock

    to_insert(kiosk)
    decided: list[int] = []
    shown: list[int] = []

    def on_settled(session) -> None:  # the deciding thread
        if session.escrow is not None and not decided:
            decided.append(Clock.frames)

    def on_text(_view, text: str) -> None:  # the UI thread
        if text and not shown:
            shown.append(Clock.frames)

    kiosk.term.runner.on_change.append(on_settled)
    kiosk.app.view.bind(escrow_text=on_text)
    try:
        kiosk.hub.get("bill-validator").insert_note(10_000)
        kiosk.pump(lambda: shown and decided, 10, "escrow shown")
    finally:
        kiosk.app.view.unbind(escrow_text=on_text)
        kiosk.term.runner.on_change.remove(on_settled)
    assert shown[0] - decided[0] <= 1, (decided, shown)
