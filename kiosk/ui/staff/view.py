"""The staff screens' model: the Kivy properties the staff kv files bind to, rendered in the
current language from the raw answers of the staff back-end (wording in ``present``).

An EventDispatcher, not a widget, like ``kiosk.ui.view.SessionView``. ``StaffMode``
(``kiosk.ui.staff.mode``) keeps the raw data and calls ``render()`` after every change and
every language switch.
"""

from __future__ import annotations

from typing import Any, Callable

from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty

from kiosk.flow.money import format_minor
from kiosk.staff.auth import Permission as P
from kiosk.staff.faults import CASHBOX_CODES
from kiosk.ui.staff import present as sp
from kiosk.ui.catalog import N_
from kiosk.ui.staff.jobs import receipt_number

#: (intent, label, screen, permission): the home menu offers what the role may do
MENU = (
    ("diagnostics", N_("Diagnostics"), "staff_diag", P.DIAGNOSTICS),
    ("collect", N_("Cash collection"), "staff_collect", P.COLLECT_CASH),
    ("report", N_("Daily report"), "staff_report", P.VIEW_TAKINGS),
    ("reprint", N_("Reprint a receipt"), "staff_reprint", P.REPRINT),
    ("faults", N_("Locking faults"), "staff_faults", P.VIEW_QUEUE),
    ("self_tests", N_("Self-tests"), "staff_tests", P.SELF_TEST),
)
#: errors whose technical detail is worth showing (as data, untranslated) under the message
DETAILED = frozenset({"fault_not_clearable", "collection_error", "not_found", "failed"})


class StaffView(EventDispatcher):
    screen = StringProperty("")  # the staff screen shown; "" → the resident's screens
    card_user = StringProperty("")  # the staff id a tapped staff card named: the PIN pad asks its PIN
    busy = BooleanProperty(False)
    busy_text = StringProperty("")
    message = StringProperty("")
    message_error = BooleanProperty(False)
    message_detail = StringProperty("")  # technical detail of an error, as the back-end says it
    idle_warning = StringProperty("")
    user_text = StringProperty("")
    menu = ListProperty([])  # [(intent, text, screen)]
    queue_text = StringProperty("")
    faults_text = StringProperty("")
    diag_summary = StringProperty("")
    diag_rows = ListProperty([])
    fault_rows = ListProperty([])
    test_rows = ListProperty([])
    batch_rows = ListProperty([])
    count_batch = StringProperty("")
    count_rows = ListProperty([])  # [{denom, text, selected}]
    count_total = StringProperty("")
    counted_headline = StringProperty("")
    counted_variance = BooleanProperty(False)
    counted_rows = ListProperty([])
    printed_text = StringProperty("")
    printed_detail = StringProperty("")  # the printer's reason, as data
    report_title = StringProperty("")
    report_rows = ListProperty([])  # the figures, then the lines to look into
    report_which = StringProperty("today")
    reprint_digits = StringProperty("")
    reprint_text = StringProperty("")
    recent_rows = ListProperty([])
    rev = NumericProperty(0)  # bumped on every render
    idle_s = NumericProperty(120)  # the staff session's idle timeout (from the back-end)

    def __init__(self, tr: Any, kiosk_id: str) -> None:
        super().__init__()
        self.tr, self.kiosk_id = tr, kiosk_id
        self.session: Any = None
        self._data: dict[str, Any] = {}
        self._error: tuple[str, str, int] | None = None
        self._note, self._note_args = "", {}  # a msgid (and its fields) said after a success
        self._busy_msgid = ""
        self.counts: dict[int, str] = {}  # the blind count being typed: denomination → digits
        self.selected = 0

    def can(self, perm: P) -> bool:
        return self.session is not None and self.session.allows(perm)

    def render(self) -> None:
        _ = self.tr._
        s, data = self.session, self._data
        self.busy_text = _(self._busy_msgid) if self.busy and self._busy_msgid else ""
        if s is not None:
            role = _(sp.ROLES[s.role.value])
            self.user_text = _("{user} · {role}").format(user=s.user_id, role=role)
            self.menu = [(i, _(label), screen) for i, label, screen, perm in MENU if s.allows(perm)]
        else:
            self.user_text = _("Staff sign-in")
            self.menu = []
        home = data.get("home", {})
        self.queue_text = sp.queue_text(home["queue"], _) if "queue" in home else ""
        self.faults_text = sp.faults_text(home["faults"], _) if "faults" in home else ""
        if "batches" in home and home["batches"]:
            self.menu = [(i, f"{t} ({len(home['batches'])})" if i == "collect" else t, sc)
                         for i, t, sc in self.menu]
        report = data.get("staff_diag")
        self.diag_rows = sp.diag_rows(report, _) if report else []
        self.diag_summary = sp.diag_summary(report, _) if report else ""
        faults = data.get("staff_faults")
        self.fault_rows = sp.fault_rows(faults, self._can_clear, _) if faults is not None else []
        tests = data.get("tests", {})
        self.test_rows = [{"name": n, "label": _(label), "hint": _(hint),
                           "result": sp.test_result_text(tests[n], _) if n in tests else ""}
                          for n, (label, hint) in sp.TESTS.items()]
        self._render_collection(_)
        self._render_report(_)
        self._render_message(_)
        self.rev += 1

    def _can_clear(self, code: str) -> bool:
        return self.can(P.CLEAR_CASHBOX_FAULT if code in CASHBOX_CODES else P.CLEAR_FAULT)

    def _render_collection(self, _: Callable[[str], str]) -> None:
        batches = self._data.get("staff_collect") or []
        self.batch_rows = [{"batch_id": b.batch_id, "title": b.batch_id,
                            "detail": _("Cash box taken out at {time}").format(
                                time=(b.closed_at or "")[:16].replace("T", " "))}
                           for b in batches]
        self.count_rows = [{"denom": d, "text": f"{_yuan(d)} × {v or '0'}",
                            "selected": d == self.selected} for d, v in self.counts.items()]
        self.count_total = sp.count_total_text({d: int(v or 0) for d, v in self.counts.items()}, _)
        counted = self._data.get("counted")
        if counted is None:
            self.counted_headline, self.counted_rows = "", []
            return
        result, printed = counted
        self.counted_headline, self.counted_variance = sp.variance_text(result, _)
        self.counted_rows = sp.counted_rows(result, _)
        if self.screen == "staff_counted":
            self.printed_text, self.printed_detail = sp.printed_text(printed, _)

    def _render_report(self, _: Callable[[str], str]) -> None:
        answer = self._data.get("staff_report")
        day = _("today") if self.report_which == "today" else _("yesterday")
        if answer is None:
            self.report_title, self.report_rows = "", []
        else:
            report, printed = answer
            self.report_title = sp.report_title(report, day, _)
            self.report_rows = sp.report_rows(report, _) + sp.report_details(report, _)
            if self.screen == "staff_report":
                self.printed_text, self.printed_detail = sp.printed_text(printed, _, "report")
        shown = self.reprint_digits
        self.reprint_text = (receipt_number(self.kiosk_id, shown)
                             if shown else "— — —")
        self.recent_rows = [{"text": f"{no}  {format_minor(amount)}  {at[11:16]}"}
                            for no, amount, at in self._data.get("staff_reprint") or []]

    def _render_message(self, _: Callable[[str], str]) -> None:
        if self._error is not None:
            code, detail, wait = self._error
            self.message, self.message_error = sp.error_text(code, _, wait), True
            self.message_detail = detail if code in DETAILED else ""
        elif self._note:
            self.message, self.message_error = _(self._note).format(**self._note_args), False
            self.message_detail = ""
        else:
            self.message, self.message_error, self.message_detail = "", False, ""



def _yuan(minor: int) -> str:
    """A note as people say it: ¥100, ¥5 (notes are whole yuan)."""
    text = format_minor(minor)
    return text[:-3] if text.endswith(".00") else text
