"""Staff mode of the touchscreen: which staff screen is shown, what it says, and the intents its
buttons call. The staff screens bind to the properties of ``StaffMode`` (``app.staff``).

Work goes to the staff worker thread (``jobs``); answers come back on the UI thread and
are kept as raw data, so a language switch re-renders every text. The role decides which
actions are offered (from the back-end's permission table); the back-end checks again.
The session ends after the back-end's idle timeout without a touch (audited) and the screen
goes back to the resident's.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from kiosk.staff.auth import Permission as P
from kiosk.ui.staff import jobs
from kiosk.ui.staff import present as sp
from kiosk.ui.catalog import N_
from kiosk.ui.staff.view import StaffView
from kiosk.ui.staff.worker import StaffWorker

log = logging.getLogger(__name__)

PARENT = {"staff_count": "staff_collect", "staff_counted": "staff_home", "staff_home": ""}
IDLE_WARNING_S = 15
MAX_COUNT_DIGITS = 5


class StaffMode(StaffView):
    def __init__(self, terminal: Any, tr: Any, now: Callable[[], float],
                 on_screen: Callable[[], None], on_leave: Callable[[], None]) -> None:
        super().__init__(tr, terminal.config.kiosk.id)
        self.terminal, self.now = terminal, now
        self.on_screen, self.on_leave = on_screen, on_leave
        self.worker = StaffWorker(terminal)
        self._last_touch = 0.0
        #: one per visit to the staff screens: an answer to a job of an earlier visit (staff
        #: logged out or went idle while it ran) is not shown to whoever is at the screen now
        self._visit = 0
        tr.listeners.append(lambda _lang: self.render())

    # ------------------------------------------------------------------ life cycle
    @property
    def active(self) -> bool:
        return bool(self.screen)

    def open(self, card_user: str = "") -> None:
        """The hidden gesture: the PIN pad; a staff card (``card_user``): the PIN of its user."""
        staff = getattr(self.terminal, "staff", None)
        if self.active or staff is None:  # not started yet: nothing to log in to
            return
        self.card_user = card_user
        # [staff] idle_timeout_s (README, Configuration): the console was built with it
        self.idle_s = float(staff.auth.idle_timeout_s)
        self._last_touch = self.now()
        self._data, self._error, self._note = {}, None, ""
        self._show("staff_login")

    def leave(self, logout: bool = True) -> None:
        """Back to the resident's screens (Log out, Back on the PIN pad, idle, session ended)."""
        self._visit += 1
        if self.session is not None and logout:
            self.worker.submit(jobs.logout(self.session), lambda _r: None, lambda _e: None)
        self.session = None
        self.card_user = ""
        self.busy, self.busy_text = False, ""
        self.counts, self.selected, self.reprint_digits = {}, 0, ""
        self._show("")
        self.on_leave()

    def close(self) -> None:
        """The app stops: log out (audited) and stop the worker. No screen changes here: the
        app is going away (and kv must not look the app up again while it stops)."""
        if self.session is not None:
            self.worker.submit(jobs.logout(self.session), lambda _r: None, lambda _e: None)
            self.session = None
        self.worker.close()

    def touched(self) -> None:
        self._last_touch = self.now()
        s = self.session
        if s is not None and not s.expired(self.terminal.staff.clock()):
            s.last_active = self.terminal.staff.clock()  # touching the screen is using it

    def tick(self) -> None:
        if not self.active:
            return
        if self.busy:
            self._last_touch = self.now()  # a self-test waiting for a note is not idleness
        left = self.idle_s - (self.now() - self._last_touch)
        if left <= 0:
            log.info("staff screens idle for %.0f s: session ended", self.idle_s)
            if self.session is not None:
                self.worker.submit(jobs.expire(self.session, self.idle_s),
                                   lambda _r: None, lambda _e: None)
            self.leave(logout=False)
            return
        warning = ""
        if left <= IDLE_WARNING_S:
            warning = self.tr._("No touch for a while: logging out in {seconds} s.").format(
                seconds=int(left + 0.999))
        if warning != self.idle_warning:
            self.idle_warning = warning

    def _show(self, screen: str) -> None:
        self.screen = screen
        self.message, self.idle_warning = "", ""
        self.printed_text = self.printed_detail = ""
        self._error, self._note = None, ""
        self._last_touch = self.now()
        self.render()
        self.on_screen()

    # ------------------------------------------------------------------ running jobs
    def _run(self, job: jobs.Job, done: Callable[[Any], None], busy_text: str = "") -> None:
        self.busy = True
        self._busy_msgid = busy_text or N_("Working…")
        self._error, self._note = None, ""
        self.render()

        visit = self._visit

        def answered(result: Any) -> None:
            self.busy = self.worker.pending > 0
            if visit != self._visit:
                log.info("staff job answered after its visit ended: dropped")
                return
            self._last_touch = self.now()
            if self.active:
                done(result)
                self.render()

        def failed(exc: BaseException) -> None:
            self.busy = self.worker.pending > 0
            if visit == self._visit:
                self._failed(exc)

        self.worker.submit(job, answered, failed)

    def _failed(self, exc: BaseException) -> None:
        self._last_touch = self.now()
        code = getattr(exc, "code", "failed")
        if code == "session_expired" and self.session is not None:
            self.leave(logout=False)
            return
        if not self.active:
            return
        self._error = (code, str(exc), int(getattr(exc, "wait_s", 0)))
        self.render()

    # ------------------------------------------------------------------ intents
    def login(self, user_id: str, pin: str) -> None:
        if self.busy or not user_id or not pin:
            return

        def done(session: Any) -> None:
            self.session = session
            self.home()

        self._run(jobs.login(user_id, pin), done, N_("Checking the PIN…"))

    def home(self) -> None:
        self._show("staff_home")
        self._run(jobs.home(self.session), lambda d: self._data.update(home=d))

    def go(self, screen: str) -> None:
        """Open a staff screen from the menu; the back-end refuses what the role may not do."""
        if self.busy or self.session is None:
            return
        loaders = {
            "staff_diag": lambda: jobs.diagnostics(self.session),
            "staff_faults": lambda: jobs.faults(self.session),
            "staff_collect": lambda: jobs.batches(self.session),
            "staff_report": lambda: jobs.daily_report(
                self.session, jobs.report_day(self.report_which), False),
            "staff_reprint": lambda: jobs.recent_receipts(self.session),
        }
        self._show(screen)
        self._data.pop(screen, None)
        if screen == "staff_tests" and not self.can(P.SELF_TEST):
            self._error = ("permission_denied", "", 0)
            self.render()
        if screen in loaders:
            self._run(loaders[screen](), lambda d, k=screen: self._data.update({k: d}),
                      N_("Checking…") if screen == "staff_diag" else "")

    def back(self) -> None:
        if self.busy:
            return
        parent = PARENT.get(self.screen, "staff_home")
        if self.screen == "staff_login" or (self.screen == "staff_home" and not parent):
            self.leave()
        elif parent == "staff_home":
            self.home()
        else:
            self.go(parent)

    def refresh(self) -> None:
        self.go(self.screen)

    def _say(self, msgid: str, **args: Any) -> None:
        self._note, self._note_args = msgid, args

    def clear_fault(self, device: str, code: str) -> None:
        if self.busy:
            return

        def done(faults: list[Any]) -> None:
            self._data["staff_faults"] = faults
            self._say(N_("The fault was cleared."))

        self._run(jobs.clear_fault(self.session, device, code), done)

    def self_test(self, name: str) -> None:
        if self.busy:
            return
        hint = sp.TESTS[name][1]

        def done(result: Any) -> None:
            self._data.setdefault("tests", {})[name] = result

        self._run(jobs.self_test(self.session, name), done, hint)

    def force_sync(self) -> None:
        if self.busy:
            return

        def done(answer: Any) -> None:
            result, queue = answer
            self._data.setdefault("home", {})["queue"] = queue
            self._say(N_("Sync done: {delivered} sent, {retried} to try again, {dead} refused."),
                      delivered=result.delivered, retried=result.retried, dead=result.dead)

        self._run(jobs.force_sync(self.session), done, N_("Sending what is waiting…"))

    def close_batch(self) -> None:
        if not self.busy:
            self._run(jobs.close_batch(self.session),
                      lambda d: self._data.update(staff_collect=d))

    def start_count(self, batch_id: str) -> None:
        if self.busy:
            return
        self.count_batch = batch_id
        self.counts = {d: "" for d in sorted(self.terminal.config.limits.accepted_notes_minor,
                                             reverse=True)}
        self.selected = next(iter(self.counts), 0)
        self._show("staff_count")

    def select(self, denom: int) -> None:
        self.selected = int(denom)
        self.render()

    def count_key(self, key: str) -> None:
        if self.selected not in self.counts:
            return
        self.counts[self.selected] = _edit(self.counts[self.selected], key, MAX_COUNT_DIGITS,
                                           strip_zeros=True)
        self.render()

    def submit_count(self) -> None:
        if self.busy:
            return
        counted = {d: int(v) for d, v in self.counts.items() if v}

        def done(answer: Any) -> None:
            self._show("staff_counted")
            self._data["counted"] = answer

        self._run(jobs.submit_count(self.session, self.count_batch, counted), done,
                  N_("Recording the count and printing the receipt…"))

    def report_other_day(self) -> None:
        self.report_which = "yesterday" if self.report_which == "today" else "today"
        self.go("staff_report")

    def print_report(self) -> None:
        if self.busy:
            return
        day = jobs.report_day(self.report_which)

        def done(answer: Any) -> None:
            self._data["staff_report"] = answer

        self._run(jobs.daily_report(self.session, day, True), done, N_("Printing the report…"))

    def reprint_key(self, key: str) -> None:
        self.reprint_digits = _edit(self.reprint_digits, key, 13)
        self.render()

    def reprint(self) -> None:
        if self.busy or not self.reprint_digits:
            return
        self._run(jobs.reprint(self.session, self.reprint_digits),
                  lambda no: self._say(N_("Receipt {number} was sent to the printer."), number=no),
                  N_("Sending to the printer…"))


def _edit(current: str, key: str, max_len: int, strip_zeros: bool = False) -> str:
    if key == "del":
        return current[:-1]
    if key == "clear":
        return ""
    if key.isdigit() and len(current) < max_len:
        out = current + key
        return (out.lstrip("0") or "0") if strip_zeros else out
    return current
