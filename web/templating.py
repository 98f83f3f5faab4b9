"""Jinja2 templates: one environment per app, with translations and the helpers every page needs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, NoMatchFound

from instance import i18n
from instance.settings import Settings
from web import csrf

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def format_duration(minutes: int) -> str:
    """``150`` → ``2 h 30``; ``45`` → ``45 min``."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def format_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if i18n.get_language() == "fr":
        return value.strftime("%d/%m/%Y")
    return value.strftime("%Y-%m-%d")


def format_number(value: float | Decimal | int, places: int = 2) -> str:
    text = f"{value:,.{places}f}"
    if i18n.get_language() == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def create_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.translate, i18n.translate_plural, newstyle=True
    )
    env.filters["duration"] = format_duration
    env.filters["date"] = format_date
    env.filters["number"] = format_number
    env.globals["LANGUAGES"] = i18n.LANGUAGES
    return env


class RouteIndex:
    """``url_path_for`` that remembers which route answers each (name, parameters): Starlette's tries every route in
    turn, and a page that links a hundred times would pay for it a hundred times."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.routes = routes
        self.found: dict[tuple[str, tuple[str, ...]], BaseRoute] = {}

    def path(self, name: str, **params: Any) -> str:
        key = (name, tuple(sorted(params)))
        route = self.found.get(key)
        if route is not None:
            return str(route.url_path_for(name, **params))
        for route in self.routes:
            try:
                path = route.url_path_for(name, **params)
            except NoMatchFound:
                continue
            self.found[key] = route
            return str(path)
        raise NoMatchFound(name, params)


def route_index(app: Starlette) -> RouteIndex:
    """The app's ``RouteIndex``, made on first use."""
    index: RouteIndex | None = getattr(app.state, "route_index", None)
    if index is None:
        index = app.state.route_index = RouteIndex(app.router.routes)
    return index


def site_settings(request: Request) -> Settings:
    """The instance's settings as its admins set them (``request.state.site``), else those of the environment."""
    site = getattr(request.state, "site", None)
    if site is not None:
        settings: Settings = site.settings
        return settings
    configured: Settings = request.app.state.instance.settings
    return configured


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render ``template`` with what every page needs: the person, the CSRF token, the language, flashes."""
    env: jinja2.Environment = request.app.state.templates
    settings = site_settings(request)
    values: dict[str, Any] = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "unread": getattr(request.state, "unread", 0),
        "csrf_token": csrf.token(request),
        "language": i18n.get_language(),
        "instance_name": settings.instance_name,
        "settings": settings,
        "url": route_index(request.app).path,
        "flashes": pop_flashes(request),
    }
    values.update(context or {})
    html = env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)


def flash(request: Request, message: str, kind: str = "success") -> None:
    """Show ``message`` on the next page this person sees."""
    request.session.setdefault("flashes", []).append([kind, str(message)])


def pop_flashes(request: Request) -> list[list[str]]:
    if "session" not in request.scope:
        return []
    return list(request.session.pop("flashes", []))
