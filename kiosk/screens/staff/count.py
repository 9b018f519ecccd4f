"""The blind count: notes per denomination on a keypad. Nothing expected is shown until the
count is recorded (the back-end reveals the journal's and the device's figures only then)."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory

from kiosk.screens.staff.common import StaffScreen


class StaffCountScreen(StaffScreen):
    def on_kv_post(self, _base_widget: Any) -> None:
        self.staff.fbind("count_rows", self._build)
        self._build()

    def _build(self, *_: Any) -> None:
        grid = self.ids.denoms
        rows = self.staff.count_rows
        buttons = list(reversed(grid.children))
        if [b.denom for b in buttons] != [r["denom"] for r in rows]:
            grid.clear_widgets()
            buttons = []
            for row in rows:
                btn = Factory.DenomButton(denom=row["denom"], intent=f"denom_{row['denom']}")
                btn.bind(on_release=lambda b: self.staff.select(b.denom))
                grid.add_widget(btn)
                buttons.append(btn)
        for btn, row in zip(buttons, rows):
            btn.text, btn.selected = row["text"], row["selected"]
