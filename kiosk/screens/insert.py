"""Insert cash: bound entirely to the session's preformatted text; Finish and Cancel are intents."""

from __future__ import annotations

from kiosk.screens.common import KioskScreen


class InsertScreen(KioskScreen):
    pass
