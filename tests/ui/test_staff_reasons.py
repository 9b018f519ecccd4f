"""Device and check reasons on the staff screens in the screen's language: the known ones worded,
the detail after a known prefix passed through as data, an unknown reason shown as it came."""

from __future__ import annotations

import pytest

from kiosk.ui.i18n import Translator
from kiosk.ui.staff.present import diag_rows
from kiosk.ui.staff.reasons import PATTERNS, WHOLE, say_reason


@pytest.fixture(scope="module")
def tr():
    t = Translator()
    t.switch("zh_CN")
    yield t
    t.switch("zh_CN")


def test_known_reasons_are_said_in_chinese(tr):
    assert say_reason("bill validator does not answer", tr._) == "收钞器没有应答"
    assert say_reason("only 120 MiB free", tr._) == "磁盘只剩120 MB"
    assert say_reason("self-test failed: no note within 30 s", tr._) == \
        "自检未通过：no note within 30 s"
    assert say_reason("something new from a driver", tr._) == "something new from a driver"


def test_every_reason_has_words_in_both_languages(tr):
    for lang in ("zh_CN", "en"):
        tr.switch(lang)
        for wording in list(WHOLE.values()) + [w for _p, w in PATTERNS]:
            tr._(wording)
    assert not tr.missing
    tr.switch("zh_CN")


def test_diagnostics_rows_show_translated_reasons(tr):
    report = {"entries": [{"name": "bill_validator", "kind": "device", "status": "fault",
                           "reason": "bill validator does not answer"},
                          {"name": "disk", "kind": "disk", "status": "ok",
                           "reason": "2048 MiB free"}]}
    rows = diag_rows(report, tr._)
    assert [r["reason"] for r in rows] == ["收钞器没有应答", "磁盘还剩2048 MB"]
