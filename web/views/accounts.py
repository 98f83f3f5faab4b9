"""Accounts views (placeholder routes, replaced by the real views)."""

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def todo(request: Request) -> PlainTextResponse:
    return PlainTextResponse("todo", status_code=501)


routes = [
    Route("/login", todo, methods=["GET", "POST"], name="login"),
    Route("/logout", todo, methods=["POST"], name="logout"),
    Route("/register", todo, methods=["GET", "POST"], name="register"),
    Route("/me", todo, name="profile"),
]
