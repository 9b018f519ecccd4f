"""The demo's developer panel shows the actions it is handed and runs them through the controls
it is handed; the screen itself knows nothing of the demo."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ui


class Controls:
    def __init__(self) -> None:
        self.done: list[str] = []
        self.listeners: list = []

    def do(self, action: str) -> str:
        self.done.append(action)
        return action


def test_the_panel_has_one_button_per_action_it_is_given(window):
    from kivy.uix.button import Button

    from kiosk.screens.devpanel import DevPanel

    controls = Controls()
    panel = DevPanel({"jam": ("j", "Jam it"), "paper_out": ("p", "No paper")}, controls=controls)
    buttons = [w for w in reversed(panel.children) if isinstance(w, Button)]
    assert [b.text for b in buttons] == ["[j] Jam it", "[p] No paper"]
    buttons[1].dispatch("on_release")
    assert controls.done == ["paper_out"]
    assert len(controls.listeners) == 1  # it hears each result to show it
