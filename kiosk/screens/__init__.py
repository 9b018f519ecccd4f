"""The screens, one module (and one kv file under assets/kv) per screen.

``SCREENS`` lists the resident's in the order of a session, ``STAFF_SCREENS`` the staff's
(behind the hidden gesture); ``kiosk.app`` builds one of each. Resident screens call the app's
intent methods and bind to the preformatted text in ``app.view``; staff screens do the same
with ``app.staff``.
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
STAFF_SCREENS = (
    ("staff_login", "kiosk.screens.staff_login", "StaffLoginScreen"),
    ("staff_home", "kiosk.screens.staff_home", "StaffHomeScreen"),
    ("staff_diag", "kiosk.screens.staff_diag", "StaffDiagScreen"),
    ("staff_faults", "kiosk.screens.staff_faults", "StaffFaultsScreen"),
    ("staff_tests", "kiosk.screens.staff_tests", "StaffTestsScreen"),
    ("staff_collect", "kiosk.screens.staff_collect", "StaffCollectScreen"),
    ("staff_count", "kiosk.screens.staff_count", "StaffCountScreen"),
    ("staff_counted", "kiosk.screens.staff_counted", "StaffCountedScreen"),
    ("staff_report", "kiosk.screens.staff_report", "StaffReportScreen"),
    ("staff_reprint", "kiosk.screens.staff_reprint", "StaffReprintScreen"),
)
