"""The resident's touches on the services menu and its errands, as the app's intent methods:
each only posts an event (docs/architecture.md, "One thread decides")."""

from __future__ import annotations

from kiosk.flow import events as e
from kiosk.flow.session import Phase


class ErrandIntents:
    """Mixed into the app, which provides ``post`` and ``session``."""

    def open_services(self) -> None:
        self.post(e.ServicesPressed())  # type: ignore[attr-defined]

    def choose(self, code: str) -> None:
        """An option on a choice screen: an errand on the menu, else the step's option."""
        if self.session.phase == Phase.SERVICES:  # type: ignore[attr-defined]
            self.post(e.ErrandChosen(code))  # type: ignore[attr-defined]
        else:
            self.post(e.OptionChosen(code))  # type: ignore[attr-defined]

    def back(self) -> None:
        self.post(e.BackPressed())  # type: ignore[attr-defined]

    def submit_phone(self, text: str) -> None:
        self.post(e.PhoneEntered(text))  # type: ignore[attr-defined]

    def print_slip(self) -> None:
        self.post(e.PrintPressed())  # type: ignore[attr-defined]
