"""The screens, one module (and one kv file under assets/kv) per screen; the staff's in the
``staff`` sub-package, their kv files under assets/kv/staff.

``SCREENS`` lists the resident's in the order of a session, ``STAFF_SCREENS`` the staff's
(behind the hidden gesture); ``kiosk.app`` builds one of each and loads ``KV_FILES``. Resident
screens call the app's intent methods and bind to the preformatted text in ``app.view``; staff
screens do the same with ``app.staff``.
"""

from __future__ import annotations

SCREENS = (
    ("attract", "kiosk.screens.attract", "AttractScreen"),
    ("identify", "kiosk.screens.identify", "IdentifyScreen"),
    ("account", "kiosk.screens.account", "AccountScreen"),
    ("amount", "kiosk.screens.amount", "AmountScreen"),
    ("insert", "kiosk.screens.insert", "InsertScreen"),
    ("code_pay", "kiosk.screens.code_pay", "CodePayScreen"),
    ("processing", "kiosk.screens.processing", "ProcessingScreen"),
    ("done", "kiosk.screens.done", "DoneScreen"),
    ("rating", "kiosk.screens.rating", "RatingScreen"),
    ("ended", "kiosk.screens.ended", "EndedScreen"),
    ("out_of_service", "kiosk.screens.out_of_service", "OutOfServiceScreen"),
    # beyond paying, from the account screen (kiosk/flow/services_menu.py)
    ("choice", "kiosk.screens.choice", "ChoiceScreen"),
    ("phone", "kiosk.screens.phone", "PhoneScreen"),
    ("request_confirm", "kiosk.screens.request_confirm", "RequestConfirmScreen"),
    ("request_done", "kiosk.screens.request_done", "RequestDoneScreen"),
    ("history", "kiosk.screens.history", "HistoryScreen"),
)
STAFF_SCREENS = (
    ("staff_login", "kiosk.screens.staff.login", "StaffLoginScreen"),
    ("staff_home", "kiosk.screens.staff.home", "StaffHomeScreen"),
    ("staff_diag", "kiosk.screens.staff.diag", "StaffDiagScreen"),
    ("staff_faults", "kiosk.screens.staff.faults", "StaffFaultsScreen"),
    ("staff_tests", "kiosk.screens.staff.tests", "StaffTestsScreen"),
    ("staff_collect", "kiosk.screens.staff.collect", "StaffCollectScreen"),
    ("staff_count", "kiosk.screens.staff.count", "StaffCountScreen"),
    ("staff_counted", "kiosk.screens.staff.counted", "StaffCountedScreen"),
    ("staff_report", "kiosk.screens.staff.report", "StaffReportScreen"),
    ("staff_reprint", "kiosk.screens.staff.reprint", "StaffReprintScreen"),
)
#: the kv files under assets/kv, shared rules first (a screen's rule uses the widgets they define)
KV_FILES = (("common.kv", "voice.kv", "pictures.kv") + tuple(f"{name}.kv" for name, _m, _c in SCREENS) + ("staff/common.kv",)
            + tuple(f"staff/{name.removeprefix('staff_')}.kv" for name, _m, _c in STAFF_SCREENS))
