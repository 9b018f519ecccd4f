"""A device's or check's reason, said in the staff screen's language.

The diagnostics back-end (kiosk/staff/diag.py) and the drivers give their reasons in English, as
data for logs and the ``kiosk diag`` JSON. On a Chinese staff screen the known ones are said in
Chinese (docs/architecture.md, "What the screens say"); what follows a known prefix (an
exception's text, a self-test's detail) stays as it came, and an unknown reason is shown as is.
"""

from __future__ import annotations

import re
from typing import Callable

from kiosk.ui.catalog import N_

Gettext = Callable[[str], str]

WHOLE = {
    "not started": N_("not started"),
    "stopped": N_("stopped"),
    "paused": N_("paused"),
    "idle": N_("waiting"),
    "disabled": N_("switched off in the settings"),
    "not connected": N_("not connected"),
    "not probed": N_("not checked yet"),
    "not checked": N_("not checked yet"),
    "no status yet": N_("no answer yet"),
    "no state yet": N_("no answer yet"),
    "empty": N_("nothing waiting"),
    "no locking fault": N_("no locking fault"),
    "integrity check passed": N_("Integrity check passed"),
    "paper near end": N_("paper nearly used up"),
    "bill validator does not answer": N_("the note reader does not answer"),
    "coin acceptor not answering": N_("the coin acceptor does not answer"),
    "card in the field": N_("a card is on the reader"),
    "port open; silent without a card (the card-read test checks the reader)": N_(
        "connected; it is silent until a card is near (the card test checks it)"),
}
#: (pattern, wording): the named groups are data, passed through
PATTERNS = (
    (re.compile(r"^only (?P<mib>\d+) MiB free$"), N_("only {mib} MB of disk free")),
    (re.compile(r"^(?P<mib>\d+) MiB free$"), N_("{mib} MB of disk free")),
    (re.compile(r"^self-test failed: (?P<detail>.*)$", re.S), N_("self-test failed: {detail}")),
    (re.compile(r"^driver crashed: (?P<detail>.*)$", re.S), N_("the driver stopped: {detail}")),
    (re.compile(r"^health check failed: (?P<detail>.*)$", re.S),
     N_("the check failed: {detail}")),
    (re.compile(r"^cannot read disk usage: (?P<detail>.*)$", re.S),
     N_("cannot read the disk: {detail}")),
    (re.compile(r"^integrity check failed: (?P<detail>.*)$", re.S),
     N_("integrity check failed: {detail}")),
    (re.compile(r"^slow: (?P<ms>\d+) ms$"), N_("slow: {ms} ms")),
    (re.compile(r"^(?P<n>\d+) waiting to be delivered$"), N_("{n} waiting to be sent")),
)


def say_reason(reason: str, _: Gettext) -> str:
    text = reason.strip()
    if text.lower() in WHOLE:
        return _(WHOLE[text.lower()])
    for pattern, wording in PATTERNS:
        m = pattern.match(text)
        if m:
            return _(wording).format(**m.groupdict())
    return reason
