"""The resident's screens, one module (and one kv file under assets/kv) per screen.

``SCREENS`` lists them in the order of a session; ``kiosk.app`` builds one of each. Screens only
call the app's intent methods and bind to the preformatted text in ``app.view``.
"""

from __future__ import annotations

SCREENS = (
    ("attract", "kiosk.screens.attract", "AttractScreen"),
    ("identify", "kiosk.screens.identify", "IdentifyScreen"),
    ("account", "kiosk.screens.account", "AccountScreen"),
    ("amount", "kiosk.screens.amount", "AmountScreen"),
    ("insert", "kiosk.screens.insert", "InsertScreen"),
    ("processing", "kiosk.screens.processing", "ProcessingScreen"),
    ("done", "kiosk.screens.done", "DoneScreen"),
    ("rating", "kiosk.screens.rating", "RatingScreen"),
    ("ended", "kiosk.screens.ended", "EndedScreen"),
    ("out_of_service", "kiosk.screens.out_of_service", "OutOfServiceScreen"),
)
