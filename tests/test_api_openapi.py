"""The OpenAPI document matches the API exactly: every route is in it and nothing else, each documented
example request answers its documented status with a body its schema accepts, every route refuses a missing
token and (for writes) a read-only token, and every documented query parameter is really read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.routing import Route

from instance.runtime import Instance
from tests.api_support import World, add_entries, api, error_of, world
from tests.conftest import PASSWORD
from web.api import ENDPOINTS

RUNS_AS = {"join": "carol", "leave": "bob", "delete_me": "carol"}  # the others run as alice, restos's manager
LAST = ("delete_me",)
# examples that need another instance answering: run against two instances in tests/test_api_federation.py
ELSEWHERE = ("lookup",)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"api_rate_limit": 10_000}


async def document(app: Starlette) -> dict[str, Any]:
    async with api(app) as anonymous:  # the document itself needs no token
        response = await anonymous.get("/api/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in doc["paths"].items() for method, op in item.items()]


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": doc["components"]})


async def test_every_api_route_is_documented_and_nothing_else(app: Starlette) -> None:
    doc = await document(app)
    assert doc["openapi"] == "3.1.0"
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/v1/"):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            served.update((method, path) for method in (route.methods or ()) if method != "HEAD")
    documented = {(method, path) for method, path, _op in operations(doc)}
    assert served == documented
    for method, path, op in operations(doc):
        in_path = set(re.findall(r"\{(\w+)\}", path))
        declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert in_path == declared, (method, path)
        assert op["security"] and op["x-scope"] in ("read", "write")
        assert ("write" if method != "GET" else "read") == op["x-scope"], (method, path)
        assert {"401", "403", "429"} <= set(op["responses"]), (method, path)
        for response in op["responses"].values():
            for media in response.get("content", {}).values():
                Draft202012Validator.check_schema(media["schema"])
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def example_body(op: dict[str, Any], w: World, entry_id: int) -> Any:
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if "category_id" in body:
        body["category_id"] = w.categories[0]
    if "ids" in body:
        body["ids"] = [entry_id]
    if "password" in body:
        body["password"] = PASSWORD
    return body


def example_query(op: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["example"] for p in op["parameters"] if "example" in p}


async def test_each_documented_example_answers_as_documented(app: Starlette, instance: Instance) -> None:
    doc = await document(app)
    w = await world(app)
    ordered = sorted(operations(doc), key=lambda o: o[2]["operationId"] in LAST)
    for method, path, op in ordered:
        if op["operationId"] in ELSEWHERE:
            continue
        (entry_id,) = await add_entries(instance, w, w.alice, 1)
        url = path.replace("{handle}", "restos").replace("{entry_id}", str(entry_id))
        who = RUNS_AS.get(op["operationId"], "alice")
        async with w.client(app, who) as client:
            response = await client.request(
                method,
                url,
                params=example_query(op),
                json=example_body(op, w, entry_id) if "requestBody" in op else None,
            )
        expected = next(iter(op["responses"]))
        assert str(response.status_code) == expected, (method, path, response.text)
        success = op["responses"][expected]
        if "content" not in success:
            assert not response.content
            continue
        media, spec = next(iter(success["content"].items()))
        assert response.headers["content-type"].split(";")[0] == media, (method, path)
        if media == "application/json":
            errors = list(validator(doc, spec["schema"]).iter_errors(response.json()))
            assert not errors, (method, path, errors[0].message)


async def test_every_route_refuses_missing_tokens_and_read_only_writes(app: Starlette) -> None:
    doc = await document(app)
    w = await world(app)
    error_schema = validator(doc, {"$ref": "#/components/schemas/Error"})
    async with api(app) as anonymous, w.client(app, "alice-read") as reader:
        for method, path, op in operations(doc):
            url = path.replace("{handle}", "restos").replace("{entry_id}", "1")
            missing = await anonymous.request(method, url)
            assert missing.status_code == 401, (method, path)
            error_schema.validate(missing.json())
            if op["x-scope"] == "write":
                refused = await reader.request(method, url, json={})
                assert refused.status_code == 403, (method, path)
                assert error_of(refused)["code"] == "forbidden"


def wrong_value(schema: dict[str, Any]) -> str | None:
    if schema.get("type") in ("integer", "boolean") or "enum" in schema or schema.get("format") == "date":
        return "not-valid"
    if "pattern" in schema:
        return "???"
    return None


async def test_every_documented_query_parameter_is_read(app: Starlette) -> None:
    doc = await document(app)
    w = await world(app)
    async with w.client(app, "alice") as alice:
        for method, path, op in operations(doc):
            if method != "GET":
                continue
            url = path.replace("{handle}", "restos").replace("{entry_id}", "1")
            for param in op["parameters"]:
                value = wrong_value(param["schema"])
                if param["in"] != "query" or value is None:
                    continue
                response = await alice.get(url, params={param["name"]: value})
                assert response.status_code == 422, (path, param["name"], response.text)
                assert set(error_of(response)["fields"]) == {param["name"]}, (path, param["name"])


async def test_unknown_api_paths_and_methods_answer_json(app: Starlette) -> None:
    w = await world(app)
    async with w.client(app, "alice") as alice:
        missing = await alice.get("/api/v1/nothing")
        assert missing.status_code == 404
        assert error_of(missing)["code"] == "not_found"
        wrong = await alice.put("/api/v1/me")
        assert wrong.status_code == 405
        assert set(wrong.headers["allow"].split(", ")) == {"DELETE", "GET", "HEAD", "PATCH"}
        assert error_of(wrong)["code"] == "method_not_allowed"


def test_the_api_page_lists_every_route() -> None:
    text = (Path(__file__).parent.parent / "docs" / "api.md").read_text()
    for endpoint in ENDPOINTS:
        assert f"| `{endpoint.method} {endpoint.path}` |" in text, endpoint.path
