"""Schemathesis hooks (``SCHEMATHESIS_HOOKS=tests.payment_gateway.schemathesis_hooks``): the
gateway tested as an enrolled kiosk uses it. Signed operations are signed by the test kiosks'
auth hook (tests/billing_server/conftest.py, ``AnyKioskAuth``: it enrols each kiosk at
``/v1/kiosks/{kiosk_id}/enrol``, which the gateway serves like the billing server). Positive
bodies are made to name the signing kiosk and, for a reversal, the path's order, so charges are
taken and the stateful phase can follow the link from a charge to its query."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation

from tests.billing_server.conftest import AnyKioskAuth

SIGNER = AnyKioskAuth("KIOSK-001")


def _positive(case: Any, location: str) -> bool:
    meta = case.meta
    if meta is None:
        return True
    if meta.is_negative_at(ParameterLocation(location)):
        return False
    return not (meta.generation.mode.is_negative and not meta.components)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if isinstance(case.body, dict) and _positive(case, "body"):
        body = dict(case.body)
        if "kiosk_id" in body:
            body["kiosk_id"] = "KIOSK-001"  # the kiosk whose orders the queries read
        order = (case.path_parameters or {}).get("order_id")
        if "order_id" in body and isinstance(order, str) and _positive(case, "path"):
            body["order_id"] = order
        case.body = body
    if case.operation.definition.raw.get("security") != []:
        kwargs["auth"] = SIGNER
