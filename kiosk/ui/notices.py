"""The notices on the attract screen: fetched from the billing API on a worker thread (each
fetch with its own connection and HTTP session), cached there for offline days, rotated on the
Kivy clock. Kivy properties for kv to bind; the fetch thread only hands results to the clock."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import StringProperty

from kiosk.ui.i18n import N_

log = logging.getLogger(__name__)

KINDS = {"outage": N_("Power cut notice"), "tip": N_("Safety tip"), "tariff": N_("Tariff")}
ROTATE_S = 8.0
REFRESH_S = 300.0


class NoticeBoard(EventDispatcher):
    heading = StringProperty("")
    title = StringProperty("")
    body = StringProperty("")
    pager = StringProperty("")

    def __init__(self, config: Any, tr: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config, self.tr = config, tr
        self.items: dict[str, list[dict[str, Any]]] = {"zh": [], "en": []}
        self.index = 0
        self._events: list[Any] = []
        self._stopped = threading.Event()
        self.show()

    def start(self) -> None:
        self._events = [Clock.schedule_interval(lambda _dt: self.rotate(), ROTATE_S),
                        Clock.schedule_interval(lambda _dt: self.fetch(), REFRESH_S)]
        self.fetch()

    def stop(self) -> None:
        self._stopped.set()
        for ev in self._events:
            ev.cancel()

    def fetch(self, on_done: Callable[[], None] | None = None) -> None:
        threading.Thread(target=self._fetch, args=(on_done,), name="notices", daemon=True).start()

    def _fetch(self, on_done: Callable[[], None] | None) -> None:
        from kiosk.services.billing_client import BillingClient
        from kiosk.services.identity import signed
        from offline_queue.cache import ReferenceCache
        from offline_queue.schema import connect

        cfg = self.config
        got: dict[str, list[dict[str, Any]]] = {}
        try:
            db = connect(cfg.kiosk.db)
            client = BillingClient(cfg.billing.url, ReferenceCache(db),
                                   cfg.billing.connect_timeout_s, cfg.billing.read_timeout_s,
                                   tls=cfg.billing.tls())
            signed(client, cfg)
            for lang in ("zh", "en"):
                got[lang] = [n for n in client.notices(lang) if isinstance(n, dict)]
            db.conn.close()
        except Exception:
            log.exception("notices not fetched")
            return
        if not self._stopped.is_set():
            Clock.schedule_once(lambda _dt: self._set(got, on_done), 0)

    def _set(self, got: dict[str, list[dict[str, Any]]],
             on_done: Callable[[], None] | None) -> None:
        self.items.update(got)
        self.show()
        if on_done is not None:
            on_done()

    def rotate(self) -> None:
        self.index += 1
        self.show()

    def show(self) -> None:
        """The current notice in the current language (also after a language switch)."""
        _ = self.tr._
        items = self.items.get(self.tr.api_lang) or []
        if not items:  # nothing fetched or cached yet: a useful standing tip
            self.heading, self.title, self.pager = _("Safety tip"), _("Keep your receipt"), ""
            self.body = _("If anything goes wrong, call the service phone shown below. "
                          "Your payment is recorded even without a receipt.")
            return
        n = items[self.index % len(items)]
        self.heading = _(KINDS.get(str(n.get("kind", "")), N_("Notice")))
        self.title = str(n.get("title", ""))
        self.body = str(n.get("body", ""))
        self.pager = f"{self.index % len(items) + 1} / {len(items)}"
