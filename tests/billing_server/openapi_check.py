"""Check bodies against docs/billing-api.yaml, for server tests and for the kiosk's client tests.

    validate_response("POST", "/v1/payments", 201, body)   # raises AssertionError on a mismatch
    validate_request("POST", "/v1/payments", body)

The spec itself is validated (openapi_spec_validator) the first time it is loaded. Schemas are
checked with jsonschema's 2020-12 validator, formats (date-time, date) enforced, and an integer
must be a JSON integer (1.0 is refused: money is never a float).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# JSON Schema counts 1.0 as an integer; money here never is. bool is already not an integer.
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, inst: isinstance(inst, int) and not isinstance(inst, bool)
    ),
)
SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "billing-api.yaml"
_BASE = "urn:billing-api"


@lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    validate_spec(spec)
    return spec


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resource = Resource(contents=load_spec(), specification=DRAFT202012)
    return Registry().with_resource(_BASE, resource)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref (responses may be shared components)."""
    spec = load_spec()
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _operation(method: str, path_template: str) -> dict[str, Any]:
    paths = load_spec()["paths"]
    assert path_template in paths, f"{path_template} is not in the spec"
    op = paths[path_template].get(method.lower())
    assert op is not None, f"{method} {path_template} is not in the spec"
    return op


def _check(instance: Any, pointer: str, what: str) -> None:
    validator = _Validator(
        {"$ref": f"{_BASE}#/{pointer}"},
        registry=_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
        raise AssertionError(f"{what} does not match the spec:\n  " + "\n  ".join(lines))


def _json_schema_pointer(method: str, path_template: str, node_path: list[str],
                         node: dict[str, Any]) -> str:
    ref = node.get("$ref")
    if ref is not None:  # a shared component: point at it directly
        node = _deref(node)
        base = ref.removeprefix("#/")
        assert "application/json" in node.get("content", {}), f"{ref} has no JSON body"
        return base + "/" + _pointer("content", "application/json", "schema")
    assert "application/json" in node.get("content", {}), f"{'/'.join(node_path)} has no JSON body"
    return _pointer("paths", path_template, method.lower(), *node_path, "content",
                    "application/json", "schema")


def validate_response(method: str, path_template: str, status: int, body: Any) -> None:
    """Assert ``body`` (parsed JSON) is what the spec documents for this operation and status."""
    responses = _operation(method, path_template)["responses"]
    key = str(status)
    assert key in responses, (
        f"{method} {path_template} does not document status {status} "
        f"(documented: {', '.join(responses)})"
    )
    pointer = _json_schema_pointer(method, path_template, ["responses", key], responses[key])
    _check(body, pointer, f"{method} {path_template} {status} body")


def validate_request(method: str, path_template: str, body: Any) -> None:
    """Assert a request body matches the operation's requestBody schema."""
    op = _operation(method, path_template)
    assert "requestBody" in op, f"{method} {path_template} takes no body"
    pointer = _json_schema_pointer(method, path_template, ["requestBody"], op["requestBody"])
    _check(body, pointer, f"{method} {path_template} request body")


def documented_statuses(method: str, path_template: str) -> set[int]:
    return {int(s) for s in _operation(method, path_template)["responses"]}
