"""Pages where managers keep the catalog of an association: categories, levels and projects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from instance import reference
from instance.errors import Conflict, ValidationError
from instance.i18n import gettext as _
from instance.models import Association, User
from instance.services import catalog
from instance.services.access import require_permission, visible_association
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render

View = Callable[[Request], Awaitable[Response]]


def titles() -> dict[str, str]:
    return {"categories": _("Categories"), "levels": _("Levels"), "projects": _("Projects")}


def common_options() -> list[tuple[str, str]]:
    return [(c.code, c.label) for c in reference.common_categories()]


async def _context(
    request: Request, kind: catalog.Kind, association: Association, user: User, form: Form
) -> dict[str, Any]:
    async with request.app.state.instance.sessions() as db:
        items = await catalog.list_items(db, association, kind)
        usage = await catalog.usage_counts(db, association, kind)
    return {
        "association": association,
        "kind": kind.name,
        "title": titles()[kind.name],
        "items": items,
        "usage": usage,
        "form": form,
        "common_options": common_options(),
        "common_labels": dict(common_options()),
    }


def _redirect(request: Request, kind: catalog.Kind, association: Association) -> RedirectResponse:
    return RedirectResponse(request.url_for(f"catalog_{kind.name}", handle=association.handle).path, status_code=303)


def list_view(kind: catalog.Kind) -> View:
    async def view(request: Request) -> Response:
        user = require_user(request)
        instance = request.app.state.instance
        async with instance.sessions() as db:
            association = await visible_association(db, request.path_params["handle"], user)
            await require_permission(db, user, association, kind.permission)
        form = Form({"hourly_rate": str(catalog.default_hourly_rate(association, instance.settings))})
        if request.method == "POST":
            form = Form.from_data(await read_form(request))
            async with instance.sessions() as db:
                try:
                    item = await catalog.create_item(db, user, association, kind, form.values)
                except ValidationError as error:
                    form.fail(error)
                else:
                    await db.commit()
                    flash(request, _("“%(name)s” was added.", name=item.name))
                    return _redirect(request, kind, association)
        context = await _context(request, kind, association, user, form)
        return render(request, "catalog/list.html", context, 200 if form.ok else 400)

    return view


def edit_view(kind: catalog.Kind) -> View:
    async def view(request: Request) -> Response:
        user = require_user(request)
        item_id = request.path_params["item_id"]
        async with request.app.state.instance.sessions() as db:
            association = await visible_association(db, request.path_params["handle"], user)
            await require_permission(db, user, association, kind.permission)
            item = await catalog.get_item(db, association, kind, item_id)
            form = Form(
                {
                    k: str(getattr(item, k))
                    for k in ("name", "description", "common_category", "hourly_rate")
                    if hasattr(item, k)
                }
            )
            if request.method == "POST":
                form = Form.from_data(await read_form(request))
                try:
                    await catalog.update_item(db, user, association, kind, item_id, form.values)
                except ValidationError as error:
                    form.fail(error)
                else:
                    await db.commit()
                    flash(request, _("Your changes were saved."))
                    return _redirect(request, kind, association)
        context = {
            "association": association,
            "kind": kind.name,
            "title": titles()[kind.name],
            "item": item,
            "form": form,
            "common_options": common_options(),
        }
        return render(request, "catalog/edit.html", context, 200 if form.ok else 400)

    return view


def archive_view(kind: catalog.Kind) -> View:
    async def view(request: Request) -> Response:
        user = require_user(request)
        form = await read_form(request)
        archived = form.get("archived") == "1"
        async with request.app.state.instance.sessions() as db:
            association = await visible_association(db, request.path_params["handle"], user)
            try:
                item = await catalog.set_archived(db, user, association, kind, request.path_params["item_id"], archived)
            except Conflict as error:
                flash(request, str(error.message), "error")
            else:
                await db.commit()
                message = _("“%(name)s” was archived.") if archived else _("“%(name)s” is offered again.")
                flash(request, message % {"name": item.name})
        return _redirect(request, kind, association)

    return view


def delete_view(kind: catalog.Kind) -> View:
    async def view(request: Request) -> Response:
        user = require_user(request)
        await read_form(request)
        async with request.app.state.instance.sessions() as db:
            association = await visible_association(db, request.path_params["handle"], user)
            try:
                name = await catalog.delete_item(db, user, association, kind, request.path_params["item_id"])
            except Conflict as error:
                flash(request, str(error.message), "error")
            else:
                await db.commit()
                flash(request, _("“%(name)s” was deleted.", name=name))
        return _redirect(request, kind, association)

    return view


def _routes() -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for name, kind in catalog.KINDS.items():
        base = f"/associations/{{handle}}/{name}"
        found += [
            Route(base, list_view(kind), methods=["GET", "POST"], name=f"catalog_{name}"),
            Route(
                f"{base}/{{item_id:int}}/edit", edit_view(kind), methods=["GET", "POST"], name=f"catalog_{name}_edit"
            ),
            Route(
                f"{base}/{{item_id:int}}/archive", archive_view(kind), methods=["POST"], name=f"catalog_{name}_archive"
            ),
            Route(f"{base}/{{item_id:int}}/delete", delete_view(kind), methods=["POST"], name=f"catalog_{name}_delete"),
        ]
    return found


routes = _routes()
