"""The volunteer's pages: log time fast, see one's entries, edit or withdraw them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation import catalog_sync
from federation.remote import RemoteError, known_actor
from instance.errors import Conflict, ValidationError
from instance.i18n import gettext as _
from instance.models import Association, User
from instance.services import entries as service
from instance.services.access import visible_association
from instance.services.entry_lists import OwnFilters, labels_for, member_associations, own_entries
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render
from web.views import moderation
from web.views.entry_forms import form_context, status_labels


def page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return int(text) if text.isdecimal() else 1


async def my_entries(request: Request) -> Response:
    user = require_user(request)
    filters = OwnFilters.from_query(request.query_params)
    async with request.app.state.instance.sessions() as db:
        page = await own_entries(db, user, filters, page_number(request))
        labels = await labels_for(db, page.entries)
        associations = await member_associations(db, user)
    context = {
        "page": page,
        "labels": labels,
        "associations": associations,
        "filters": filters,
        "query_string": urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "page"]),
        "status_labels": status_labels(),
    }
    return render(request, "entries/list.html", context)


def _chosen(associations: list[Association], handle: str, fallback_id: int | None) -> Association:
    by_handle = {a.handle: a for a in associations}
    by_id = {a.id: a for a in associations}
    if handle.lower() in by_handle:
        return by_handle[handle.lower()]
    if fallback_id in by_id:
        return by_id[fallback_id]
    return associations[0]


async def _initial_values(
    db: AsyncSession, user: User, associations: list[Association], request: Request
) -> tuple[Association, dict[str, str], bool]:
    """Which association the form is for and what it starts with; the flag says a repetition was prefilled."""
    params = request.query_params
    if params.get("repeat"):
        last = await service.last_entry(db, user)
        if last is not None and last.association_id in {a.id for a in associations}:
            chosen = _chosen(associations, "", last.association_id)
            values = service.entry_values(last, same_date=False)
            if str(last.category_id) not in {str(c) for c, _n in (await form_context(db, chosen))["categories"]}:
                values["category"] = str(await service.default_category(db, user, chosen) or "")
            return chosen, values, True
    chosen = _chosen(associations, params.get("association", ""), user.last_association_id)
    category = await service.default_category(db, user, chosen)
    return chosen, {"start_date": service.today().isoformat(), "category": str(category or "")}, False


async def new_entry(request: Request) -> Response:
    user = require_user(request)
    instance = request.app.state.instance
    async with instance.sessions() as db:
        person = await db.get(User, user.id)
        assert person is not None
        associations = await member_associations(db, person)
        if not associations:
            return render(request, "entries/no_association.html")
        if request.method == "POST":
            form = Form.from_data(await read_form(request))
            association = await visible_association(db, form.text("association") or "-", user)
            try:
                entry = await service.create_entry(db, instance.settings.base_url, person, association, form.values)
            except ValidationError as error:
                form.fail(error)
            else:
                await db.commit()
                flash(request, _entry_saved_message(entry.status))
                target = request.url_for("new_entry").path if form.flag("another") else "/entries"
                return RedirectResponse(target, status_code=303)
            repeated = False
        else:
            association, values, repeated = await _initial_values(db, person, associations, request)
            form = Form(values)
            if association.is_remote and catalog_sync.is_stale(association):
                await _refresh_catalog(request, db, association)
        has_last = await service.last_entry(db, person) is not None
        context: dict[str, Any] = await form_context(db, association)
    context.update(
        {"form": form, "associations": associations, "repeated": repeated, "has_last": has_last, "entry": None}
    )
    return render(request, "entries/new.html", context, 200 if form.ok else 400)


async def _refresh_catalog(request: Request, db: AsyncSession, association: Association) -> None:
    """Fetch again the catalog of a remote association when the copy is old (kept as it is if that fails)."""
    federation = request.app.state.federation
    actor = await known_actor(db, association.actor_uri or "")
    try:
        async with db.begin_nested():
            await catalog_sync.refresh(db, federation.client, association, actor.catalog if actor else "")
    except RemoteError:
        return
    await db.commit()


def _entry_saved_message(status: str) -> str:
    if status == "approved":
        return _("Your time was recorded. Thank you!")
    return _("Your time was recorded; it waits for the association's approval. Thank you!")


async def edit_entry(request: Request) -> Response:
    user = require_user(request)
    instance = request.app.state.instance
    entry_id = request.path_params["entry_id"]
    async with instance.sessions() as db:
        entry = await service.own_entry(db, user, entry_id)
        association = await db.get(Association, entry.association_id)
        assert association is not None
        if entry.status == "withdrawn":
            flash(request, _("This entry was withdrawn; it can no longer be changed."), "error")
            return RedirectResponse(request.url_for("my_entries").path, status_code=303)
        form = Form(service.entry_values(entry))
        if request.method == "POST":
            form = Form.from_data(await read_form(request))
            try:
                entry = await service.update_entry(db, instance.settings.base_url, user, entry_id, form.values)
            except ValidationError as error:
                form.fail(error)
            except Conflict as error:
                flash(request, str(error.message), "error")
                return RedirectResponse(request.url_for("my_entries").path, status_code=303)
            else:
                await db.commit()
                flash(request, _entry_saved_message(entry.status))
                return RedirectResponse(request.url_for("my_entries").path, status_code=303)
        context: dict[str, Any] = await form_context(db, association, entry)
    context.update({"form": form, "entry": entry, "associations": [association], "repeated": False})
    return render(request, "entries/edit.html", context, 200 if form.ok else 400)


async def withdraw_entry(request: Request) -> Response:
    user = require_user(request)
    await read_form(request)
    async with request.app.state.instance.sessions() as db:
        entry = await service.withdraw_entry(db, user, request.path_params["entry_id"])
        await db.commit()
        flash(request, _("“%(title)s” was withdrawn: it no longer counts.", title=entry.title))
    return RedirectResponse(request.url_for("my_entries").path, status_code=303)


routes = [
    Route("/entries", my_entries, name="my_entries"),
    Route("/entries/new", new_entry, methods=["GET", "POST"], name="new_entry"),
    Route("/entries/{entry_id:int}/edit", edit_entry, methods=["GET", "POST"], name="edit_entry"),
    Route("/entries/{entry_id:int}/withdraw", withdraw_entry, methods=["POST"], name="withdraw_entry"),
    *moderation.routes,
]
