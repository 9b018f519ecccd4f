"""Runtime language switching for the screens (zh_CN first, English second).

kv binds ``text: app.tr._('Pay')``: the kv compiler binds the rule to the ``_`` "property" of this
Observable, so switching the language re-evaluates every bound text (the pattern of Kivy's gettext
example), and the rule is unbound again when its widget goes. Catalogs are standard gettext .mo
files under ``assets/locale``; a msgid missing from a catalog is recorded in ``missing`` so a test
fails on any visible untranslated string.
"""

from __future__ import annotations

import gettext
import logging
from pathlib import Path
from typing import Any, Callable

from kivy.event import Observable

from kiosk.ui.catalog import DOMAIN, LANGS, LOCALE_DIR, N_  # noqa: F401 - N_ is re-exported

log = logging.getLogger(__name__)

DEFAULT_LANG = LANGS[0]
#: the receipt and billing API use short codes
API_LANG = {"zh_CN": "zh", "en": "en"}
#: the language button shows the *other* language's own name; these are not translated
LANG_NAMES = {"zh_CN": "中文", "en": "English"}


class _Recorder(gettext.NullTranslations):
    """The catalog's fallback: called only for msgids the catalog lacks."""

    def __init__(self, missing: set[tuple[str, str]], lang: str) -> None:
        super().__init__()
        self.missing, self.lang = missing, lang

    def gettext(self, message: str) -> str:
        if message:
            self.missing.add((self.lang, message))
            log.warning("no %s translation for %r", self.lang, message)
        return message


def load_catalog(lang: str, locale_dir: Path = LOCALE_DIR,
                 missing: set[tuple[str, str]] | None = None) -> gettext.NullTranslations:
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r} (supported: {', '.join(LANGS)})")
    try:
        catalog: gettext.NullTranslations = gettext.translation(DOMAIN, str(locale_dir), [lang])
    except OSError as exc:
        log.error("no %s catalog in %s: %s", lang, locale_dir, exc)
        catalog = gettext.NullTranslations()
    catalog.add_fallback(_Recorder(missing if missing is not None else set(), lang))
    return catalog


class Translator(Observable):
    """``_()`` for kv and code; ``switch(lang)`` re-evaluates every kv rule that used it."""

    def __init__(self, lang: str = DEFAULT_LANG, locale_dir: Path = LOCALE_DIR) -> None:
        super().__init__()
        self.locale_dir = locale_dir
        self.missing: set[tuple[str, str]] = set()
        self._catalogs = {code: load_catalog(code, locale_dir, self.missing) for code in LANGS}
        self._observers: dict[int, tuple[Callable[..., Any], tuple, dict]] = {}
        self._next_uid = 1
        self.listeners: list[Callable[[str], None]] = []
        self.lang = lang
        self._gettext = self._catalogs[lang].gettext

    @property
    def api_lang(self) -> str:
        return API_LANG[self.lang]

    def _(self, text: str) -> str:
        return self._gettext(text)

    gettext = _

    def switch(self, lang: str) -> None:
        if lang not in self._catalogs:
            raise ValueError(f"unsupported language {lang!r}")
        if lang == self.lang:
            return
        self.lang = lang
        self._gettext = self._catalogs[lang].gettext
        for func, largs, kwargs in list(self._observers.values()):
            func(*largs, None, None, **kwargs)
        for listener in list(self.listeners):
            listener(lang)

    def other_lang(self) -> str:
        return LANGS[(LANGS.index(self.lang) + 1) % len(LANGS)]

    # ---- what the kv compiler calls for ``tr._``
    def fbind(self, name: str, func: Callable[..., Any], *largs: Any, **kwargs: Any) -> int:
        if name != "_":
            return super().fbind(name, func, *largs, **kwargs)
        uid = self._next_uid
        self._next_uid += 1
        self._observers[uid] = (func, largs, kwargs)
        return uid

    def funbind(self, name: str, func: Callable[..., Any], *largs: Any, **kwargs: Any) -> None:
        if name != "_":
            return super().funbind(name, func, *largs, **kwargs)
        for uid, entry in list(self._observers.items()):
            if entry == (func, largs, kwargs):
                del self._observers[uid]
                return None
        return None

    def unbind_uid(self, name: str, uid: int) -> None:
        if name != "_":
            return super().unbind_uid(name, uid)
        self._observers.pop(uid, None)
        return None

    def release(self) -> None:
        """Forget every listener and kv rule bound here: their app is closing. Kivy's builder
        keeps each widget's rule bindings (and so this translator) until the widget is
        collected, and the listeners lead back to the app that owns the widgets: without this,
        a closed app and its whole screen tree stay reachable for the life of the process."""
        self.listeners.clear()
        self._observers.clear()

    @property
    def bound_rules(self) -> int:
        """How many kv rules are bound (tests check unbinding)."""
        return len(self._observers)
