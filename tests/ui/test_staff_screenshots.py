"""Every staff screen, in Chinese and English, standard and accessible, with real data from the
back-end (a fault, a closed batch, a count with a variance, a report): a screenshot of each to
``artifacts/screenshots/`` and the rules every screen keeps (tests/ui/screen_checks.py)."""

from __future__ import annotations

import pytest

from kiosk.flow.session import Phase
from tests.staff.conftest import MT_PIN, OP_PIN
from tests.ui.test_staff_screens import hold_corner, idle, staff_kiosk  # noqa: F401 - fixture

pytestmark = pytest.mark.ui
VARIANTS = (("zh_CN", False), ("en", True), ("zh_CN", True), ("en", False))


def _tag(name: str, lang: str, accessible: bool) -> str:
    return f"staff-{name}-{'zh' if lang == 'zh_CN' else 'en'}{'-accessible' if accessible else ''}"


def _check_all(kiosk, shots: list[tuple[str, object]], problems: list[str]) -> int:
    """Each (name, show) in every variant: a screenshot and the rules every screen keeps."""
    from kiosk.ui.i18n import LANG_NAMES
    from tests.ui import screen_checks as checks

    app, window = kiosk.app, kiosk.window
    allowed = {app.view.kiosk_id, LANG_NAMES["en"], LANG_NAMES["zh_CN"]}
    taken = 0
    for lang, accessible in VARIANTS:
        app.tr.switch(lang)
        app.theme.accessible = accessible
        floor = 40 if accessible else 28
        target = app.theme.dpi / 25.4 * 15
        for name, show in shots:
            show()
            kiosk.frame(4)
            tag = _tag(name, lang, accessible)
            kiosk.snap(tag)
            taken += 1
            screen = app.manager.current_screen
            found = checks.untranslated(screen, lang, allowed)
            found += checks.too_small_text(screen, floor)
            found += checks.small_targets(screen, target)
            found += checks.misplaced_actions(screen, window, app.theme)
            found += checks.overlaps(screen, window)
            found += checks.style_drift(screen, app.theme)
            problems += [f"{tag}: {p}" for p in found]
    app.tr.switch("zh_CN")
    app.theme.accessible = False
    return taken


def test_every_staff_screen_in_both_languages_and_accessible_mode(staff_kiosk):
    from tests.ui.test_payment_journeys import CARD

    kiosk = staff_kiosk
    app, staff, term = kiosk.app, kiosk.app.staff, kiosk.term
    from billing_server.seed import DEMO_ACCOUNTS

    kiosk.journal.credit("S-SHOTS", 1, "note", 10_000)  # a paid note in the box for the count
    kiosk.journal.commit_payment("S-SHOTS", DEMO_ACCOUNTS[0].account_no, {10_000: 1}, {}, 10_000,
                                offline=False)
    kiosk.hub.get("printer").command("paper out")
    kiosk.hub.get("bill-validator").command("cashbox-remove")
    kiosk.pump(lambda: kiosk.staff.collections.awaiting_count(), 10, "batch closed")
    kiosk.wait_screen("out_of_service")
    problems: list[str] = []

    hold_corner(kiosk)
    kiosk.wait_screen("staff_login")
    login = kiosk.current_screen()

    def login_id() -> None:
        staff._show("staff_login")
        login.mode, login.user_id, login.pin = "id", "op1", ""

    def login_pin_locked() -> None:
        staff._show("staff_login")
        login.mode, login.user_id = "pin", "op1"
        staff._error = ("locked_out", "", 60)
        staff.render()
        login.pin = "123"  # typed again after the refusal

    taken = _check_all(kiosk, [("login-id", login_id), ("login-pin-locked-out", login_pin_locked)],
                       problems)
    login.reset()

    def show(screen: str):
        return lambda: staff._show(screen)

    # maintenance: real data through the real back-end
    staff.login("mt1", MT_PIN)
    kiosk.wait_screen("staff_home")
    idle(kiosk)
    for screen in ("staff_diag", "staff_faults", "staff_tests"):
        staff.go(screen)
        idle(kiosk)
    staff.self_test("printer")  # paper out: fails, and says why
    idle(kiosk)
    staff.self_test("card")
    kiosk.hub.get("card-reader").present(CARD)  # the card test reads it; no resident session
    idle(kiosk)
    kiosk.hub.get("card-reader").remove()
    results = [row["result"] for row in staff.test_rows]
    assert results[0].startswith("未通过") and results[3].startswith("通过")
    assert kiosk.session.phase == Phase.OUT_OF_SERVICE and kiosk.session.account is None
    taken += _check_all(kiosk, [("maintenance-home", show("staff_home")),
                                ("maintenance-diag", show("staff_diag")),
                                ("maintenance-faults", show("staff_faults")),
                                ("maintenance-tests", show("staff_tests"))], problems)
    staff.leave()
    kiosk.wait_screen("out_of_service")

    # operator
    app.open_staff()
    staff.login("op1", OP_PIN)
    kiosk.wait_screen("staff_home")
    idle(kiosk)
    staff.go("staff_collect")
    idle(kiosk)
    (batch,) = staff.batch_rows
    staff.go("staff_report")
    idle(kiosk)
    staff.go("staff_reprint")
    idle(kiosk)
    assert len(staff.recent_rows) == 1
    staff.reprint_key("1")
    staff.start_count(batch["batch_id"])
    for denom, n in ((10_000, "1"), (2_000, "3")):
        staff.select(denom)
        staff.count_key(n)
    staff.submit_count()
    kiosk.wait_screen("staff_counted")
    idle(kiosk)
    assert "+¥60.00" in staff.counted_headline
    def report_page_2() -> None:
        from kiosk.screens.staff.common import PagedList

        staff._show("staff_report")
        kiosk.frame(2)
        pager = next(w for w in kiosk.current_screen().walk() if isinstance(w, PagedList))
        pager.turn(1)

    taken += _check_all(kiosk, [("operator-home", show("staff_home")),
                                ("operator-collect", show("staff_collect")),
                                ("operator-count", show("staff_count")),
                                ("operator-counted", show("staff_counted")),
                                ("operator-report", show("staff_report")),
                                ("operator-report-page-2", report_page_2),
                                ("operator-reprint", show("staff_reprint"))], problems)
    staff.leave()
    assert not app.tr.missing, f"strings with no translation: {sorted(app.tr.missing)}"
    assert not problems, "\n".join(problems)
    assert taken == len(VARIANTS) * 13
