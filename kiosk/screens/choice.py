"""Choice: one question, a few large buttons (the services menu, a category, reasons to tick,
what an e-bill covers). The buttons are made from ``app.view.options``; a ticked reason shows
as a primary button."""

from __future__ import annotations

from typing import Any

from kiosk.screens.common import KButton, KioskScreen


class ChoiceScreen(KioskScreen):
    def on_kv_post(self, _base_widget: object) -> None:
        self.app.view.bind(options=self._build)
        self._build(None, self.app.view.options)

    def _build(self, _view: Any, options: list) -> None:
        grid = self.ids.options
        grid.clear_widgets()
        for code, label, selected in options:
            btn = KButton(text=label, intent=f"option:{code}", height_scale=1.3,
                          kind="primary" if selected else "secondary")
            btn.bind(on_release=lambda _b, c=code: self.app.choose(c))
            grid.add_widget(btn)
