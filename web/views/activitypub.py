"""ActivityPub documents: the actors, their collections, an association's catalog and its objects.

An actor's id is also its HTML page. ``NegotiatedRoute`` answers ActivityPub requests itself and hands other
requests to an HTML endpoint or, when it has none, to the routes registered after it (so ``/associations/new``
and the association's profile page keep working); both answers carry ``Vary: Accept``. Register these routes
before the HTML ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message, Receive, Scope, Send

from federation import collections, follows, urls
from federation.actors import (
    ACTIVITY_JSON,
    catalog_object,
    group_document,
    instance_document,
    person_document,
    with_context,
)
from federation.discovery import public_association, public_user
from federation.local_keys import actor_key, instance_owner, owner_of
from instance.errors import NotFound
from instance.i18n import lazy_gettext
from instance.models import Association, Category, Level, Project, User
from instance.runtime import Instance
from web.templating import render

AP_TYPES = ("application/activity+json", "application/ld+json")
Endpoint = Callable[[Request], Awaitable[Response]]


def wants_activitypub(headers: Headers) -> bool:
    """Whether Accept prefers ActivityPub JSON to HTML (``application/ld+json`` is taken with any profile)."""
    best_ap, best_html = 0.0, 0.0
    for part in headers.get("accept", "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in AP_TYPES:
            best_ap = max(best_ap, quality)
        elif media == "text/html":
            best_html = max(best_html, quality)
    return best_ap > 0 and best_ap >= best_html


def activity_json(document: dict[str, Any], status_code: int = 200) -> Response:
    return JSONResponse(document, status_code=status_code, media_type=ACTIVITY_JSON)


class NegotiatedRoute(Route):
    """A GET route whose endpoint answers ActivityPub requests; others go to ``html`` or the next routes."""

    def __init__(self, path: str, endpoint: Endpoint, *, name: str, html: Endpoint | None = None) -> None:
        super().__init__(path, endpoint, methods=["GET"], name=name)
        self.html = Route(path, html, methods=["GET"]) if html is not None else None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).add_vary_header("Accept")
            await send(message)

        if wants_activitypub(Headers(scope=scope)):
            await super().handle(scope, receive, send_varying)
        elif self.html is not None:
            await self.html.handle(scope, receive, send_varying)
        else:
            await self._fall_through(scope, receive, send_varying)

    async def _fall_through(self, scope: Scope, receive: Receive, send: Send) -> None:
        routes: list[BaseRoute] = scope["router"].routes
        partial: tuple[BaseRoute, Scope] | None = None
        for route in routes[routes.index(self) + 1 :]:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial = (route, child_scope)
        if partial is None:
            raise HTTPException(404)
        scope.update(partial[1])
        await partial[0].handle(scope, receive, send)


def _instance(request: Request) -> Instance:
    found: Instance = request.app.state.instance
    return found


def _not_found() -> NotFound:
    return NotFound(lazy_gettext("There is no actor here with this address."))


async def _user(db: AsyncSession, request: Request) -> User:
    user = await public_user(db, request.path_params["handle"])
    if user is None:
        raise _not_found()
    return user


async def _association(db: AsyncSession, request: Request) -> Association:
    association = await public_association(db, request.path_params["handle"])
    if association is None:
        raise _not_found()
    return association


# -- actors ------------------------------------------------------------------------------------------------


async def instance_actor(request: Request) -> Response:
    instance = _instance(request)
    async with instance.sessions() as db:
        key = await actor_key(db, instance.settings, instance_owner(instance.settings))
        await db.commit()
        return activity_json(instance_document(instance.settings, key))


async def person(request: Request) -> Response:
    instance = _instance(request)
    async with instance.sessions() as db:
        user = await _user(db, request)
        key = await actor_key(db, instance.settings, owner_of(instance.settings, user))
        await db.commit()
        return activity_json(person_document(instance.settings, user, key))


async def person_page(request: Request) -> Response:
    instance = _instance(request)
    async with instance.sessions() as db:
        user = await _user(db, request)
    context = {"person": user, "host": instance.settings.host, "instance_name": instance.settings.instance_name}
    return render(request, "activitypub/person.html", context)


async def group(request: Request) -> Response:
    instance = _instance(request)
    async with instance.sessions() as db:
        association = await _association(db, request)
        key = await actor_key(db, instance.settings, owner_of(instance.settings, association))
        await db.commit()
        return activity_json(group_document(instance.settings, association, key))


# -- collections -------------------------------------------------------------------------------------------


def _page_number(request: Request) -> int | None:
    raw = request.query_params.get("page")
    if raw is None:
        return None
    if not raw.isdecimal() or int(raw) < 1:
        raise HTTPException(400, "page must be a positive integer")
    return int(raw)


def _empty(request: Request, collection_id: str) -> Response:
    """An outbox or following collection: nothing is published there yet."""
    number = _page_number(request)
    if number is None:
        return activity_json(collections.collection(collection_id, 0))
    return activity_json(collections.page(collection_id, number, 0, []))


async def _actor_id(request: Request, db: AsyncSession, kind: str) -> str:
    settings = _instance(request).settings
    if kind == "users":
        return urls.user_actor(settings, (await _user(db, request)).handle)
    if kind == "associations":
        return urls.association_actor(settings, (await _association(db, request)).handle)
    return urls.instance_actor(settings)


def empty_collection(kind: str, collection: str) -> Endpoint:
    """``outbox`` and ``following`` of every actor, and ``followers`` of volunteers and the instance."""

    async def view(request: Request) -> Response:
        async with _instance(request).sessions() as db:
            actor_id = await _actor_id(request, db, kind)
        return _empty(request, f"{actor_id}/{collection}")

    return view


async def group_followers(request: Request) -> Response:
    """An association's members: their number only, for member lists are not public."""
    _page_number(request)
    instance = _instance(request)
    async with instance.sessions() as db:
        association = await _association(db, request)
        total = await collections.member_count(db, association) + await follows.accepted_remote_followers(
            db, association
        )
    actor_id = urls.association_actor(instance.settings, association.handle)
    return activity_json(collections.collection(f"{actor_id}/followers", total, paged=False))


async def catalog(request: Request) -> Response:
    instance = _instance(request)
    number = _page_number(request)
    async with instance.sessions() as db:
        association = await _association(db, request)
        collection_id = urls.association_actor(instance.settings, association.handle) + "/catalog"
        if number is None:
            total = await collections.catalog_size(db, association)
            return activity_json(collections.collection(collection_id, total))
        return activity_json(await collections.catalog_page(db, instance.settings, association, collection_id, number))


def catalog_object_view(model: type[Project] | type[Category] | type[Level]) -> Endpoint:
    async def view(request: Request) -> Response:
        instance = _instance(request)
        async with instance.sessions() as db:
            association = await _association(db, request)
            item: Project | Category | Level | None = await db.get(model, request.path_params["item_id"])
            if item is None or item.association_id != association.id or item.archived:
                raise _not_found()
            document = catalog_object(instance.settings, association, item)
        return activity_json(with_context(document))

    return view


def _routes() -> list[BaseRoute]:
    found: list[BaseRoute] = [
        Route("/actor", instance_actor, name="ap_instance_actor"),
        NegotiatedRoute("/users/{handle}", person, html=person_page, name="ap_person"),
        NegotiatedRoute("/associations/{handle}", group, name="ap_group"),
        Route("/associations/{handle}/followers", group_followers, name="ap_group_followers"),
        Route("/associations/{handle}/catalog", catalog, name="ap_catalog"),
    ]
    for kind, base in (
        ("instance", "/actor"),
        ("users", "/users/{handle}"),
        ("associations", "/associations/{handle}"),
    ):
        for collection in ("outbox", "following", "followers"):
            if (kind, collection) != ("associations", "followers"):
                found.append(
                    Route(f"{base}/{collection}", empty_collection(kind, collection), name=f"ap_{kind}_{collection}")
                )
    for kind, model in (("projects", Project), ("categories", Category), ("levels", Level)):
        path = f"/associations/{{handle}}/{kind}/{{item_id:int}}"
        found.append(Route(path, catalog_object_view(model), name=f"ap_{kind}_object"))
    return found


routes = _routes()
