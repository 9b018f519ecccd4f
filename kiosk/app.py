"""The resident touchscreen: a Kivy App over the same terminal the headless mode runs.

The app is a client of the terminal's deciding thread: it receives each settled session (an
immutable snapshot) through the Kivy clock (``kiosk.ui.bridge.SessionFeed``) and posts intents
back as events. The screen shown follows the session's phase. Widgets call the intent methods
below and bind to preformatted text (``app.view``); the UI thread never does serial, SQLite or
HTTP I/O (docs/architecture.md, "One thread decides").
"""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from drivers import interfaces as d
from kiosk.flow import events as e
from kiosk.flow.session import CHOOSING, Phase, Session
from kiosk.ui.errand_intents import ErrandIntents
from kiosk.screens import KV_FILES, SCREENS, STAFF_SCREENS
from kiosk.screens.voice import HelpOverlay
from kiosk.flow.receipt import qr_payload
from kiosk.ui import qr
from kiosk.ui.bridge import ClockTimers, SessionFeed
from kiosk.ui.i18n import DEFAULT_LANG, LANG_NAMES, Translator
from kiosk.ui.notices import NoticeBoard
from kiosk.ui.platform import register_cjk_font
from kiosk.ui.present import RETURN_REASONS, UiState, present
from kiosk.ui.staff.mode import StaffMode
from kiosk.ui.staff.worker import Heartbeat
from kiosk.ui.theme import Theme
from kiosk.ui.view import SessionView
from kiosk.ui.voice import VoiceGuide

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
KV_DIR = ROOT / "assets" / "kv"
KEY_ESCAPE, KEY_F1, KEY_F4 = 27, 282, 285
HEARTBEAT_S = 60.0


def load_kv() -> None:
    """Each kv file once per process (loading twice would apply every rule twice)."""
    loaded = {str(Path(f).resolve()) for f in Builder.files}
    for name in KV_FILES:
        path = str((KV_DIR / name).resolve())
        if path not in loaded:
            Builder.load_file(path)


def make_terminal(config: Any, hub: Any = None, sync: bool = True) -> Any:
    """The terminal wired for the app: a deciding thread of its own, timers on the Kivy clock."""
    from kiosk.services.terminal import Terminal

    return Terminal(config, hub, sync=sync, timers_factory=ClockTimers,
                            deciding_thread=True)


class KioskApp(ErrandIntents, App):
    use_kivy_settings = False
    other_lang_name = StringProperty(LANG_NAMES["en"])
    #: the amount screen's "pay by phone" is on: the next amount is paid by payment code
    code_tender = BooleanProperty(False)

    def __init__(self, terminal: Any, *, lockdown: bool = True, allow_close: bool = False,
                 dev_controls: Any = None, dev_actions: Any = None, stop_terminal: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = "Electricity payment / 电费缴纳"
        if not terminal.deciding_thread:
            raise TypeError("the app needs a terminal made by kiosk.app.make_terminal()")
        self.terminal = terminal
        self.kiosk_config = terminal.config
        self.tr = Translator()
        self.theme = Theme()
        self.view = SessionView(kiosk_id=self.kiosk_config.kiosk.id,
                                service_phone=self.kiosk_config.kiosk.service_phone)
        self.ui = self._new_ui(ready=False)
        self.voice = VoiceGuide(self.kiosk_config.voice, scanner=self._has_scanner())
        self.lockdown, self.allow_close = lockdown, allow_close
        self.dev_controls = dev_controls
        self.dev_actions = dev_actions or {}
        self.stop_terminal = stop_terminal
        self.shown: list[str] = []
        self.manager: ScreenManager | None = None
        self._phase: Phase | None = None
        self._clock: list[Any] = []
        self.notices = NoticeBoard(self.kiosk_config, self.tr)
        self._keypad_deadline = 0.0
        self._attached = False
        self._preview: Session | None = None
        self._live: Session | None = None  # the newest settled session the feed handed over
        self._feed: SessionFeed | None = None
        self._stopped = threading.Event()
        self.tr.listeners.append(lambda _lang: self._on_language())
        self.staff = StaffMode(terminal, self.tr, Clock.get_time, on_screen=self._refresh,
                               on_leave=self._staff_left)
        self.heartbeat = Heartbeat(terminal)
        terminal.on_staff_card.append(self._staff_card)

    # ------------------------------------------------------------------ Kivy life cycle
    def build(self) -> Any:
        register_cjk_font()
        load_kv()
        from kivy.core.window import Window

        self.manager = ScreenManager(transition=NoTransition())
        for name, module, cls in SCREENS + STAFF_SCREENS:
            self.manager.add_widget(getattr(importlib.import_module(module), cls)(name=name))
        root = FloatLayout()
        root.add_widget(self.manager)
        root.add_widget(HelpOverlay())
        self.voice.start()
        if self.dev_controls is not None:
            from kiosk.screens.devpanel import DevPanel

            root.add_widget(DevPanel(self.dev_actions, controls=self.dev_controls))
        Window.clearcolor = (1, 1, 1, 1)
        self.theme.fit(*Window.size)
        self._on_language()
        self._refresh()
        return root

    def on_start(self) -> None:
        from kivy.core.window import Window

        Window.fbind("on_request_close", self._on_request_close)
        Window.fbind("on_keyboard", self._on_keyboard)
        Window.fbind("on_touch_down", self._on_any_touch)
        Window.fbind("size", self._on_window_size)
        if getattr(self.terminal, "runner", None) is not None:
            self._attach()
        else:
            threading.Thread(target=self._start_terminal, name="terminal-start",
                             daemon=True).start()

    def _start_terminal(self) -> None:
        try:
            self.terminal.start()
        except Exception:
            log.exception("the terminal could not start")
            Clock.schedule_once(lambda _dt: self._start_failed(), 0)
            return
        Clock.schedule_once(lambda _dt: self._attach(), 0)

    def _start_failed(self) -> None:
        """The terminal could not start (e.g. the database failed its integrity check): out of
        service, with the terminal ID and phone number, until staff fix it and restart."""
        self.ui.start_failed = True
        self._refresh()

    def _attach(self) -> None:
        if self._stopped.is_set() or self._attached:
            return
        self._attached = True
        runner = self.terminal.runner
        self._feed = SessionFeed(self._receipt_of, self._on_session)
        runner.on_change.append(self._feed)
        self._live = runner.session  # read after subscribing: nothing newer is missed
        runner.lang = self.tr.api_lang
        self.terminal.event_filter = self._filter
        self.ui.ready = self.view.ready = True
        self._clock.append(Clock.schedule_interval(self._tick, 0.25))
        self._clock.append(Clock.schedule_once(self.heartbeat.tick, 5))
        self._clock.append(Clock.schedule_interval(self.heartbeat.tick, HEARTBEAT_S))
        self.notices.start()
        self._refresh()

    def on_stop(self) -> None:
        self.close_services()

    def close_services(self) -> None:
        """Stop listening, timers and (unless told otherwise) the terminal. Safe to call twice."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        from kivy.core.window import Window

        for ev in self._clock:
            ev.cancel()
        self._clock.clear()
        self.staff.close()
        self.heartbeat.close()
        self.notices.stop()
        self.voice.stop()
        Window.funbind("on_request_close", self._on_request_close)
        Window.funbind("on_keyboard", self._on_keyboard)
        Window.funbind("on_touch_down", self._on_any_touch)
        Window.funbind("size", self._on_window_size)
        self.terminal.event_filter = None
        runner = getattr(self.terminal, "runner", None)
        if self._feed is not None:
            self._feed.close()
            if runner is not None and self._feed in runner.on_change:
                runner.on_change.remove(self._feed)
        if self.stop_terminal and runner is not None:
            self.terminal.stop()
        self.tr.release()

    def open_settings(self, *args: Any) -> bool:
        return False  # F1 opens nothing on a kiosk

    # ------------------------------------------------------------------ lockdown
    def _on_request_close(self, *args: Any, **kwargs: Any) -> bool:
        return not self.allow_close  # True: refused (Alt-F4, window manager close)

    def _on_keyboard(self, _window: Any, key: int, _scancode: Any = None, codepoint: Any = None,
                     modifiers: Any = None, **kwargs: Any) -> bool:
        if key in (KEY_ESCAPE, KEY_F1) or (key == KEY_F4 and "alt" in (modifiers or ())):
            return self.lockdown
        if self.dev_controls is not None and codepoint:
            return bool(self.dev_controls.hotkey(codepoint))
        return False

    def _on_any_touch(self, *_: Any) -> None:
        self.touched()

    def _on_window_size(self, _window: Any, size: Any) -> None:
        self.theme.fit(*size)

    # ------------------------------------------------------------------ the session → the screen
    def _filter(self, ev: Any) -> bool:
        """On the deciding thread, before the runner: device events are also offered to a staff
        self-test; while staff are at the screen a card opens no resident session (the card
        test reads it)."""
        if isinstance(ev, d.DeviceEvent):
            self.staff.worker.tap.offer(ev)
            if self.staff.active and isinstance(ev, d.CardPresented):
                return False
        return True

    def _receipt_of(self, s: Session) -> Any:
        """On the deciding thread: what the receipt screen needs from the journal, and its QR
        code's modules built here rather than on the Kivy thread."""
        receipt = self.terminal.runner.receipt if s.receipt_no else None
        if receipt is not None:
            qr.modules(qr_payload(receipt))
        return receipt

    @property
    def session(self) -> Session:
        if self._preview is not None:
            return self._preview
        return self._live if self._live is not None else Session(config=self.kiosk_config.limits)

    def _on_session(self, s: Session, receipt: Any = None) -> None:
        self._live = s
        if self._preview is not None:
            return
        before, self._phase = self._phase, s.phase
        shown = self.ui.receipt
        if s.phase == Phase.RECEIPT and (shown is None or shown.payment.txn_id != s.txn_id):
            self.ui.receipt = receipt
        if not s.receipt_no:
            self.ui.receipt = None
        if s.message in RETURN_REASONS:
            self.ui.last_refusal = s.message
        if s.phase != Phase.IDLE:
            self.ui.keypad_open = False
        if s.phase == Phase.IDLE and before not in (None, Phase.IDLE) and not self.staff.active:
            self._session_cleared()
        self._refresh()

    def _session_cleared(self) -> None:
        """Back to attract: the next resident starts in Chinese, standard mode."""
        self.ui = self._new_ui(ready=self.ui.ready, start_failed=self.ui.start_failed)
        self.code_tender = False
        self.theme.accessible = False
        self.voice.reset()
        self._timers_factor()
        self.tr.switch(DEFAULT_LANG)

    def _refresh(self) -> None:
        display = present(self.session, self.tr._, self.ui)
        self.view.update(display)
        screen = self.staff.screen or display.screen  # staff screens over the resident's
        if self.manager is not None and self.manager.current != screen:
            self.manager.current = screen
        if self.manager is not None and (not self.shown or self.shown[-1] != self.manager.current):
            self.shown.append(self.manager.current)
        if self.manager is not None and self._preview is None:
            self.voice.hear(self.session, screen, self.tr.lang, bool(display.idle_warning))

    def preview(self, session: Session | None, **ui: Any) -> None:
        """Show ``session`` (and UiState fields ``ui``) instead of the live session: screenshots of
        every state and the benchmark. ``None`` goes back to the live session."""
        self._preview = session
        ready = True if session is not None else self.view.ready
        self.ui = self._new_ui(ready=ready, start_failed=self.ui.start_failed,
                          **(ui if session is not None else {}))
        self._refresh()

    def _new_ui(self, **fields: Any) -> UiState:
        k = self.kiosk_config.kiosk
        return UiState(kiosk_id=k.id, service_phone=k.service_phone,
                       scanner=self._has_scanner(), **fields)

    def _has_scanner(self) -> bool:
        """A barcode scanner is configured (a disabled device is not in ``devices``)."""
        return "scanner" in self.kiosk_config.devices

    def _tick(self, _dt: float) -> None:
        self.staff.tick()
        if self._preview is not None:
            return
        timers = self.terminal.timers
        phase = self.session.phase
        insert_left = timers.remaining("insert") if phase == Phase.INSERTING else None
        screen_left = timers.remaining("screen") if phase == Phase.RECEIPT else None
        if phase in CHOOSING:
            idle_left = timers.remaining("idle")
        elif self.ui.keypad_open:
            idle_left = max(0.0, self._keypad_deadline - Clock.get_time())
            if idle_left <= 0:
                self.ui.keypad_open = False
                idle_left = None
        else:
            idle_left = None
        old = (_whole(self.ui.insert_left_s), _whole(self.ui.idle_left_s), self.ui.keypad_open,
               _whole(self.ui.screen_left_s))
        self.ui.insert_left_s, self.ui.idle_left_s = insert_left, idle_left
        self.ui.screen_left_s = screen_left
        if (_whole(insert_left), _whole(idle_left), self.ui.keypad_open,
                _whole(screen_left)) != old:
            self._refresh()

    def _on_language(self) -> None:
        self.other_lang_name = LANG_NAMES[self.tr.other_lang()]
        runner = getattr(self.terminal, "runner", None)
        if runner is not None:
            runner.lang = self.tr.api_lang
        self.notices.show()
        if self.manager is not None:
            self._refresh()

    # ------------------------------------------------------------------ intents (from widgets)
    def post(self, event: Any) -> None:
        self.terminal.events.post(event)

    def touched(self) -> None:
        """Any touch: the resident is still here."""
        timers = getattr(self.terminal, "timers", None)
        if isinstance(timers, ClockTimers):
            timers.touch()
        self._keypad_deadline = Clock.get_time() + self._idle_seconds()
        self.staff.touched()

    def _idle_seconds(self) -> float:
        return self.kiosk_config.limits.idle_timeout_s * self.theme.timeout_factor

    def open_staff(self, card_user: str = "") -> None:
        """The hidden gesture on the attract or out-of-service screen: the staff PIN pad; a
        registered staff card tapped there: the PIN pad for its user."""
        if self.session.phase not in (Phase.IDLE, Phase.OUT_OF_SERVICE) or self._preview:
            return
        self.ui.keypad_open = False
        self.staff.open(card_user)

    def _staff_card(self, user_id: str) -> None:
        """On the deciding thread (Terminal.on_staff_card): the screen opens on the UI thread."""
        Clock.schedule_once(lambda _dt: self.open_staff(user_id))

    def _staff_left(self) -> None:
        """Staff logged out (or went idle): the next resident starts as after any session."""
        self._session_cleared()
        self._refresh()

    def open_keypad(self) -> None:
        if not self.view.ready:
            return
        self.ui.keypad_open = True
        self._keypad_deadline = Clock.get_time() + self._idle_seconds()
        self._refresh()

    def submit_account(self, text: str) -> None:
        self.terminal.runner.enter_account(text)

    def cancel(self) -> None:
        if self.session.phase == Phase.IDLE:
            self.ui.keypad_open = False
            self._refresh()
        else:
            self.post(e.CancelPressed())

    def continue_(self) -> None:
        self.post(e.ContinuePressed())

    def choose_amount(self, amount_minor: int) -> None:
        if self.code_tender and self.view.code_offered:
            self.pay_by_code(amount_minor)
            return
        self.post(e.AmountChosen(int(amount_minor)))

    def toggle_code_tender(self) -> None:
        """The amount screen's "pay by phone": the amount chosen next is paid by payment code."""
        self.code_tender = not self.code_tender

    def pay_by_code(self, amount_minor: int) -> None:
        self.post(e.CodeTenderChosen(int(amount_minor)))

    def pay_cash_instead(self) -> None:
        self.code_tender = False
        self.post(e.AmountChosen(int(self.session.target_minor)))

    def reconsider_amount(self) -> None:
        self.post(e.AmountReconsidered())

    def accept_screen_receipt(self) -> None:
        self.post(e.OnScreenReceiptAccepted())

    def finish(self) -> None:
        self.post(e.FinishPressed())

    def reprint(self) -> None:
        s = self.session
        if s.phase != Phase.RECEIPT or not s.txn_id or self.ui.reprinting:
            return
        self.ui.reprinting = True
        self.terminal.runner.reprint(s.txn_id)
        self._refresh()
        self._clock.append(Clock.schedule_once(lambda _dt: self._reprint_done(), 5))

    def _reprint_done(self) -> None:
        self.ui.reprinting = False
        self._refresh()

    def rate(self, stars: int | None) -> None:
        self.post(e.Rated(stars))

    def toggle_language(self) -> None:
        self.tr.switch(self.tr.other_lang())

    def toggle_accessible(self) -> None:
        self.theme.accessible = not self.theme.accessible
        self._timers_factor()
        self.touched()  # restarts a running idle timer at the new length
        self._refresh()

    def _timers_factor(self) -> None:
        timers = getattr(self.terminal, "timers", None)
        if isinstance(timers, ClockTimers):
            timers.factor = self.theme.timeout_factor


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds + 0.999)
