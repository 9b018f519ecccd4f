"""Amount: four small modes on one screen — choose (arrears, quick amounts), a custom amount on
a keypad (whole yuan), agreeing to an on-screen receipt when the printer can't print, and the
one question when the amount chosen is less than is owed (the flow asks: kiosk/flow/outcome.py)."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory
from kivy.properties import BooleanProperty, ObjectProperty, OptionProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.flow.money import format_minor, parse_major
from kiosk.screens.common import KioskScreen


class _Panel(BoxLayout):
    screen = ObjectProperty(None, allownone=True)


class AmountChoose(_Panel):
    pass


class AmountCustom(_Panel):
    pass


class AmountConsent(_Panel):
    pass


class AmountAsk(_Panel):
    pass


class AmountScreen(KioskScreen):
    custom = BooleanProperty(False)
    entered = StringProperty("")
    entered_text = StringProperty("")
    primary_text = StringProperty("")
    mode = OptionProperty("choose", options=("choose", "custom", "consent", "ask"))

    def on_kv_post(self, _base_widget: Any) -> None:
        self._panels = {
            "choose": Factory.AmountChoose(screen=self),
            "custom": Factory.AmountCustom(screen=self),
            "consent": Factory.AmountConsent(screen=self),
            "ask": Factory.AmountAsk(screen=self),
        }
        for panel in self._panels.values():
            panel.fbind("height", self._fit_area)
        app = self.app
        for name in ("consent_needed", "pay_arrears_text", "ask_text", "confirm_text"):
            app.view.fbind(name, self._refresh)
        app.tr.listeners.append(self._refresh)
        self.fbind("custom", self._refresh)
        self.fbind("entered", self._refresh)
        self._refresh()

    def _refresh(self, *_: Any) -> None:
        app = self.app
        if app is None:
            return
        view, tr = app.view, app.tr
        self.mode = ("consent" if view.consent_needed else "ask" if view.ask_text else
                     "custom" if self.custom else "choose")
        area = self.ids.area
        panel = self._panels[self.mode]
        if panel.parent is not area:
            area.clear_widgets()
            area.add_widget(panel)
            self._fit_area()
        minor = self.entered_minor()
        self.entered_text = format_minor(minor) if self.entered else "¥ —"
        if self.mode == "consent":
            self.primary_text = tr._("Yes, continue")
        elif self.mode == "ask":
            self.primary_text = view.confirm_text
        elif self.mode == "custom":
            self.primary_text = tr._("Pay {amount}").format(amount=format_minor(minor))
        else:
            self.primary_text = view.pay_arrears_text

    def _fit_area(self, *_: Any) -> None:
        area = self.ids.area
        area.height = area.children[0].height if area.children else 0

    def entered_minor(self) -> int:
        return parse_major(self.entered or "0")

    def key(self, key: str) -> None:
        edited = self._panels["custom"].ids.keypad.edit(self.entered, key)
        self.entered = edited.lstrip("0")
        self.app.touched()

    def back(self) -> None:
        if self.mode == "ask":
            self.app.reconsider_amount()
        elif self.mode == "custom":
            self.custom = False
            self.entered = ""
        else:
            self.app.cancel()

    def primary(self) -> None:
        app = self.app
        if self.mode == "consent":
            app.accept_screen_receipt()
        elif self.mode == "ask":
            app.choose_amount(app.view.ask_minor)
        elif self.mode == "custom":
            app.choose_amount(self.entered_minor())
        else:
            app.choose_amount(app.view.arrears_minor)

    def reset(self) -> None:
        self.custom = False
        self.entered = ""
