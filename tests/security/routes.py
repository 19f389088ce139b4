"""Every route of the app, and a minimal valid request for each, built from the OpenAPI schema
so that a route added tomorrow is exercised without anyone writing its request here.

A body the schema alone cannot make valid (a cross-field rule, an id that must repeat the
path's) is given in ``SAMPLE_BODIES``; the tests say when one is needed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

# Ids that exist in the other workspace (workspace B in the tests); path parameters are
# filled with them, so a leak would find something to leak.
B_IDS = {
    "item_id": "item-b",
    "user_id": "user-b",
    "segment_id": "seg-b",
    "surface_id": "surface-b",
}
B_SECRET = "B-SECRET"  # written into B's records; must never appear in an answer to A

SAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/v1/segments/{segment_id}"): {"id": B_IDS["segment_id"], "min_users": 0},
    ("POST", "/v1/track"): {"userId": B_IDS["user_id"], "event": "Product Viewed"},
    ("POST", "/v1/identify"): {"userId": B_IDS["user_id"], "traits": {"plan": "pro"}},
    ("POST", "/v1/batch"): {
        "batch": [{"type": "track", "userId": B_IDS["user_id"], "event": "Product Viewed"}]
    },
    ("POST", "/v1/events"): {"user_id": B_IDS["user_id"], "item_id": "item-b", "type": "click"},
    ("POST", "/v1/experiments"): {"id": "exp-a", "variants": [{"id": "control"}, {"id": "test"}]},
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as the schema writes it: a parameter's convertor (``{id:path}``) dropped
    api_route: bool  # a FastAPI route, which runs the app's dependencies (and so the scope check)


@dataclass
class Call:
    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None


def _walk(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str, bool]]:
    for route in routes:
        methods = getattr(route, "methods", None)
        path = getattr(route, "path", None)
        if methods and path is not None:
            for method in sorted(methods - {"HEAD", "OPTIONS"}):
                yield method, prefix + path, isinstance(route, APIRoute)
        elif getattr(route, "original_router", None) is not None:
            # FastAPI keeps an included router as one node holding the original router.
            context = getattr(route, "include_context", None)
            inner = getattr(context, "prefix", "") or ""
            yield from _walk(route.original_router.routes, prefix + inner)
        elif getattr(route, "routes", None) is not None:  # a starlette Mount
            yield from _walk(route.routes, prefix + (path or ""))


def app_routes(app: FastAPI) -> list[Route]:
    found = {Route(m, re.sub(r"\{(\w+):\w+\}", r"{\1}", p), api) for m, p, api in _walk(app.routes)}
    return sorted(found, key=lambda r: (r.path, r.method))


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def sample_value(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """The smallest value the schema accepts, as far as the schema alone can tell."""
    schema = _resolve(schema, spec)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(s, spec).get("type") != "null"]
            return sample_value(options[0], spec)
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        return {k: sample_value(schema["properties"][k], spec) for k in required}
    if kind == "array":
        count = schema.get("minItems", 0)
        return [sample_value(schema.get("items", {}), spec) for _ in range(count)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(1.0, schema.get("minimum", 1.0))
    if kind == "boolean":
        return False
    return "sample-id"


def build_call(app: FastAPI, route: Route) -> Call:
    """A request for the route, path parameters filled with workspace B's ids."""
    spec = app.openapi()
    operation = spec["paths"].get(route.path, {}).get(route.method.lower(), {})
    url = route.path
    params: dict[str, Any] = {}
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            url = url.replace("{" + name + "}", B_IDS.get(name, f"{name}-b"))
        elif where == "query" and parameter.get("required"):
            params[name] = sample_value(parameter.get("schema", {}), spec)
    body: Any = None
    if (route.method, route.path) in SAMPLE_BODIES:
        body = SAMPLE_BODIES[(route.method, route.path)]
    elif "requestBody" in operation:
        content = operation["requestBody"]["content"]
        media = content.get("application/json") or next(iter(content.values()))
        body = sample_value(media.get("schema", {}), spec)
    return Call(route.method, url, params, body)
