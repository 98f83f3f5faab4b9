"""Discovery: WebFinger (RFC 7033), host-meta (RFC 6415) and NodeInfo 2.0 / 2.1. Readable from any origin."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from federation import urls
from federation.actors import ACTIVITY_JSON
from federation.discovery import NODEINFO_SCHEMAS, MalformedResource, nodeinfo, usage, webfinger
from instance.runtime import Instance

CORS = {"Access-Control-Allow-Origin": "*"}
JRD = "application/jrd+json"
XRD = "application/xrd+xml"


def _instance(request: Request) -> Instance:
    found: Instance = request.app.state.instance
    return found


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=CORS)


async def webfinger_view(request: Request) -> Response:
    instance = _instance(request)
    resources = request.query_params.getlist("resource")
    if len(resources) != 1 or not resources[0]:
        return _error(400, "give exactly one resource")
    try:
        async with instance.sessions() as db:
            found = await webfinger(db, instance.settings, resources[0])
    except MalformedResource:
        return _error(400, "the resource is not an acct: URI or an http(s) URL")
    if found is None:
        return _error(404, "no such account here")
    links: list[dict[str, Any]] = [{"rel": "self", "type": ACTIVITY_JSON, "href": found.actor_id}]
    if found.profile_page:
        links.append({"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": found.profile_page})
    document = {"subject": found.subject, "aliases": [found.actor_id], "links": links}
    return JSONResponse(document, media_type=JRD, headers=CORS)


async def host_meta(request: Request) -> Response:
    template = urls.absolute(_instance(request).settings, "/.well-known/webfinger?resource={uri}")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="{JRD}" template={quoteattr(template)}/>\n'
        "</XRD>\n"
    )
    return Response(body, media_type=XRD, headers=CORS)


async def nodeinfo_links(request: Request) -> Response:
    settings = _instance(request).settings
    links = [
        {"rel": schema, "href": urls.absolute(settings, f"/nodeinfo/{version}")}
        for version, schema in NODEINFO_SCHEMAS.items()
    ]
    return JSONResponse({"links": links}, media_type=JRD, headers=CORS)


async def nodeinfo_view(request: Request) -> Response:
    instance = _instance(request)
    version = request.path_params["version"]
    if version not in NODEINFO_SCHEMAS:
        return _error(404, "unknown NodeInfo version")
    async with instance.sessions() as db:
        counts = await usage(db)
    media_type = f'application/json; profile="{NODEINFO_SCHEMAS[version]}#"'
    return JSONResponse(nodeinfo(instance.settings, version, counts), media_type=media_type, headers=CORS)


routes: list[BaseRoute] = [
    Route("/.well-known/webfinger", webfinger_view, name="webfinger"),
    Route("/.well-known/host-meta", host_meta, name="host_meta"),
    Route("/.well-known/nodeinfo", nodeinfo_links, name="nodeinfo_links"),
    Route("/nodeinfo/{version}", nodeinfo_view, name="nodeinfo"),
]
