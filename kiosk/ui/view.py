"""The screens' model: one Kivy property per field of ``present.Display``, updated as a whole.

kv binds to ``app.view.<field>``; only changed values dispatch, so a note credited redraws the
total and nothing else. An EventDispatcher, not a widget: it is safe outside ``kiosk/screens``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty

from kiosk.ui.present import Display


def _property(default: Any) -> Any:
    if isinstance(default, bool):
        return BooleanProperty(default)
    if isinstance(default, int):
        return NumericProperty(default)
    if isinstance(default, str):
        return StringProperty(default)
    return ListProperty([])


def _update(self: EventDispatcher, display: Display) -> None:
    for f in dataclasses.fields(display):
        setattr(self, f.name, getattr(display, f.name))


_namespace: dict[str, Any] = {
    f.name: _property(f.default if f.default is not dataclasses.MISSING else f.default_factory())
    for f in dataclasses.fields(Display)
}
_namespace.update(
    __doc__="Every ``Display`` field as a Kivy property; ``update(display)`` sets them all.",
    __module__=__name__,
    update=_update,
    # outside the session: the terminal's identity for every footer and error screen
    kiosk_id=StringProperty(""),
    service_phone=StringProperty(""),
    ready=BooleanProperty(False),
)
SessionView = type("SessionView", (EventDispatcher,), _namespace)
