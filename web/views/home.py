"""The home page and the language switch."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from instance import i18n
from web.csrf import read_form
from web.templating import render


async def home(request: Request) -> Response:
    return render(request, "home.html")


def safe_next(target: object, default: str = "/") -> str:
    """A local path to go back to; anything else (another site, a scheme) becomes ``default``."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


async def set_language(request: Request) -> Response:
    form = await read_form(request)
    language = form.get("language")
    if isinstance(language, str) and language in i18n.LANGUAGES:
        request.session["language"] = language
        user = request.state.user
        if user is not None:
            async with request.app.state.instance.sessions() as db:
                from_db = await db.get(type(user), user.id)
                if from_db is not None:
                    from_db.language = language
                    await db.commit()
    return RedirectResponse(safe_next(form.get("next")), status_code=303)


routes = [
    Route("/", home, name="home"),
    Route("/language", set_language, methods=["POST"], name="set_language"),
]
