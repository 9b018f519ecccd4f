"""Staff home: who is logged in, the queue and the locking faults at a glance, and a menu of
what this role may do (built from the back-end's permission table)."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory

from kiosk.screens.staff.common import StaffScreen


class StaffHomeScreen(StaffScreen):
    def on_kv_post(self, _base_widget: Any) -> None:
        self.staff.fbind("menu", self._build)
        self._build()

    def _build(self, *_: Any) -> None:
        box = self.ids.menu
        wanted = [(intent, text, screen) for intent, text, screen in self.staff.menu]
        have = [(b.intent, b.text) for b in reversed(box.children)]
        if have == [(i, t) for i, t, _s in wanted]:
            return
        box.clear_widgets()
        for intent, text, screen in wanted:
            btn = Factory.MenuButton(intent=intent, text=text)
            btn.bind(on_release=lambda _b, s=screen: self.staff.go(s))
            box.add_widget(btn)
