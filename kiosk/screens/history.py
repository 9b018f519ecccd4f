"""History: the newest months in large numerals; the slip has all twelve. The table's rows are
made from ``app.view.history_rows`` under the five headings the kv file lays out."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory

from kiosk.screens.common import KioskScreen

HEADINGS = 5


class HistoryScreen(KioskScreen):
    def on_kv_post(self, _base_widget: object) -> None:
        self.app.view.bind(history_rows=self._build)
        self._build(None, self.app.view.history_rows)

    def _build(self, _view: Any, rows: list) -> None:
        grid = self.ids.rows
        for cell in list(grid.children)[:-HEADINGS]:  # children run last-added first
            grid.remove_widget(cell)
        for row in rows:
            for text in row:
                grid.add_widget(Factory.HistoryCell(text=text))
