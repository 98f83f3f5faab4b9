"""The JSON API (``/api/v1/``) and its OpenAPI document (``/api/openapi.json``).

Every route is declared once, as an ``Endpoint`` in one of the resource modules; ``routes`` turns them into
Starlette routes, and ``openapi.document`` into the OpenAPI document. Unknown ``/api/`` paths and methods
get the API's JSON errors too.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from web.api import associations, entries, me, moderation, notifications, openapi, reports
from web.api.declare import Endpoint, view
from web.api.errors import json_error

ENDPOINTS: list[Endpoint] = [
    *me.endpoints,
    *entries.endpoints,
    *notifications.endpoints,
    *associations.endpoints,
    *moderation.endpoints,
    *reports.endpoints,
]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _version() -> str:
    try:
        return version("benevalibre-fed")
    except PackageNotFoundError:
        return "0"


async def openapi_json(request: Request) -> Response:
    base_url = request.app.state.instance.settings.base_url
    return JSONResponse(openapi.document(ENDPOINTS, base_url, _version()))


def _api_routes() -> list[Route]:
    return [
        Route(e.route_path, view(e), methods=[e.method], name=f"api_{e.operation_id}", include_in_schema=False)
        for e in ENDPOINTS
    ]


API_ROUTES = _api_routes()


async def not_found(request: Request) -> Response:
    """Any other ``/api/`` request: 405 when the path exists with other methods, 404 otherwise."""
    allowed = sorted({m for r in API_ROUTES if r.matches(request.scope)[0] == Match.PARTIAL for m in (r.methods or ())})
    if allowed:
        return json_error(405, "method_not_allowed", headers={"Allow": ", ".join(allowed)})
    return json_error(404, "not_found")


routes: list[BaseRoute] = [
    *API_ROUTES,
    Route("/api/openapi.json", openapi_json, name="api_openapi"),
    Route("/api/{rest:path}", not_found, methods=METHODS, name="api_not_found"),
]
