"""The OpenAPI 3.1 document, written from the endpoint declarations (never by hand)."""

from __future__ import annotations

from typing import Any

from instance.models import TokenScope
from web.api.declare import Endpoint, Param
from web.api.schemas import COMPONENTS, ref

DESCRIPTION = """The JSON API of a Bénévalibre instance: the same actions as the web pages, for scripts and
phone shortcuts. Authenticate with a personal access token (made on your profile page, under "API tokens"):
`Authorization: Bearer <token>`. Session cookies never authenticate the API. Errors are
`{"error": {"code", "message", "fields"}}`; lists are paged with `limit` and the opaque `next_cursor`."""

REASONS = {
    200: "OK",
    201: "Created",
    204: "Done (no content)",
    400: "The body is not JSON",
    401: "No valid token",
    403: "The token's scope or association, or the person's role, does not allow this",
    404: "Not found (or not visible to this person)",
    409: "Conflicts with the current state",
    422: "Invalid values: `fields` names each one",
    429: "Too many requests: see Retry-After",
}


def _parameter(param: Param, example: dict[str, str]) -> dict[str, Any]:
    found = {
        "name": param.name,
        "in": param.where,
        "required": param.required or param.where == "path",
        "description": param.description,
        "schema": param.schema,
    }
    if param.name in example and param.where == "query":
        found["example"] = example[param.name]
    return found


def _success(endpoint: Endpoint) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": REASONS.get(endpoint.status, "OK")}
    if endpoint.response is not None:
        answer["content"] = {endpoint.media_type: {"schema": endpoint.response}}
    elif endpoint.status != 204:
        answer["content"] = {endpoint.media_type: {"schema": {"type": "string", "format": "binary"}}}
    return answer


def _error(status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": REASONS.get(status, "Error"),
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if status == 429:
        answer["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
    return answer


def operation(endpoint: Endpoint) -> dict[str, Any]:
    scopes = ["read"] if endpoint.scope == TokenScope.READ else ["write"]
    found: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag] if endpoint.tag else [],
        "security": [{"token": scopes}],
        "x-scope": scopes[0],
        "x-account-wide": endpoint.account,
        "parameters": [_parameter(p, dict(endpoint.example.query)) for p in endpoint.params],
        "responses": {
            str(status): (_success(endpoint) if index == 0 else _error(status))
            for index, status in enumerate(endpoint.statuses())
        },
    }
    if endpoint.description:
        found["description"] = endpoint.description
    if endpoint.body is not None:
        content: dict[str, Any] = {"schema": endpoint.body}
        if endpoint.example.body is not None:
            content["example"] = endpoint.example.body
        found["requestBody"] = {"required": True, "content": {"application/json": content}}
    return found


def document(endpoints: list[Endpoint], base_url: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bénévalibre API", "version": version, "description": DESCRIPTION},
        "servers": [{"url": base_url.rstrip("/")}],
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal access token; scopes: read (GET only) or write.",
                }
            },
        },
    }
