"""Associations views (placeholder routes, replaced by the real views)."""

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def todo(request: Request) -> PlainTextResponse:
    return PlainTextResponse("todo", status_code=501)


routes = [
    Route("/associations", todo, name="directory"),
    Route("/admin", todo, name="admin_home"),
]
