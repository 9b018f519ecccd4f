"""Widgets the staff screens share: the hidden corner that opens the PIN pad, the staff screen
base class, and a list that pages instead of scrolling. Their look is in
``assets/kv/staff/common.kv``; texts come from ``app.staff`` (``kiosk.ui.staff.mode``)."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import (BooleanProperty, DictProperty, ListProperty, NumericProperty,
                             StringProperty)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.screens.common import KButton, KioskScreen
from kiosk.screens.processing import ProgressDots

#: the hidden gesture: hold the top-left corner this long (README: staff access)
HOLD_S = 3.0


class StaffCorner(Widget):
    """An invisible square in the top-left corner; holding it for ``hold_s`` opens the PIN pad.
    Nothing a resident needs is there, and a hold that long is not an accident."""

    hold_s = NumericProperty(HOLD_S)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ev: Any = None

    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos):
            return False
        touch.grab(self)
        self._cancel()
        self._ev = Clock.schedule_once(self._fire, self.hold_s)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return False
        if not self.collide_point(*touch.pos):
            self._cancel()  # slid away: not the gesture
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return False
        touch.ungrab(self)
        self._cancel()
        return True

    def _cancel(self) -> None:
        if self._ev is not None:
            self._ev.cancel()
            self._ev = None

    def _fire(self, _dt: float) -> None:
        self._ev = None
        App.get_running_app().open_staff()


class StaffScreen(KioskScreen):
    """Base of the staff screens: they show ``app.staff``'s texts and call its intents."""

    @property
    def staff(self) -> Any:
        return self.app.staff


class ListRow(BoxLayout):
    """One row of a ``PagedList``; kv rules of its subclasses read ``data``."""

    data = DictProperty({})


class PagedList(BoxLayout):
    """Rows of ``items`` (dicts) made by the kv class ``row_class``, as many as fit in the height;
    Previous/Next under them when not all fit (staff screens page, they do not scroll)."""

    items = ListProperty([])
    row_class = StringProperty("ListRow")
    row_height = NumericProperty(40)
    page = NumericProperty(0)
    pages = NumericProperty(1)
    per_page = NumericProperty(1)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._trigger = Clock.create_trigger(self._layout_rows, -1)
        for name in ("items", "size", "page", "row_height", "row_class"):
            self.fbind(name, self._trigger)

    def _layout_rows(self, *_: Any) -> None:
        rows = self.ids.get("rows")
        if rows is None:
            return
        app = App.get_running_app()
        gap = rows.spacing
        fits = lambda h: max(1, int((h + 0.5) // (self.row_height + gap)))  # noqa: E731
        n = len(self.items)
        per_page = fits(self.height)
        if n > per_page:
            per_page = fits(self.height - app.theme.touch_min - self.spacing)
        self.per_page = per_page
        self.pages = max(1, -(-n // per_page))
        if self.page >= self.pages:
            self.page = self.pages - 1
            return  # the page change triggers another layout
        shown = self.items[self.page * per_page:(self.page + 1) * per_page]
        cls = Factory.get(self.row_class)
        existing = [r for r in reversed(rows.children) if isinstance(r, ListRow)]
        if len(existing) != len(shown) or any(type(r) is not cls for r in existing):
            rows.clear_widgets()
            existing = [cls(size_hint_y=None) for _ in shown]
            for row in existing:
                rows.add_widget(row)
            rows.add_widget(Widget())  # takes the rest: the rows stay at the top
        for row, item in zip(existing, shown):
            row.height = self.row_height
            row.data = dict(item)

    def turn(self, step: int) -> None:
        self.page = min(max(0, self.page + step), self.pages - 1)


class AlphaKeys(GridLayout):
    """Letters, digits and the few signs a staff ID may hold; posts ``on_key`` like Keypad."""

    __events__ = ("on_key",)
    KEYS = "1234567890qwertyuiopasdfghjkl-zxcvbnm._"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for ch in self.KEYS:
            key = Factory.Key(text=ch)
            key.bind(on_release=lambda btn: self.dispatch("on_key", btn.text))
            self.add_widget(key)

    def on_key(self, key: str) -> None:
        pass


class DenomButton(KButton):
    """One denomination of the blind count; the one being typed is ``selected`` (a thick frame
    and bold text: not told by colour alone)."""

    denom = NumericProperty(0)
    selected = BooleanProperty(False)


class BusyDots(ProgressDots):
    """The processing screen's dots, moving only while the staff worker is busy."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        App.get_running_app().staff.fbind("busy", self._follow)

    def _follow(self, _staff: Any, busy: bool) -> None:
        if busy:
            self.start()
        else:
            self.stop()
