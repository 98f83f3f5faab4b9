"""The entry managers' pages: the moderation queue, bulk decisions, time entered for others, the digest choice."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from instance.errors import ValidationError
from instance.i18n import gettext as _
from instance.i18n import ngettext
from instance.services import moderation as service
from instance.services.access import require_permission, visible_association
from instance.services.catalog import entry_choices
from instance.services.entries import today
from instance.services.entry_lists import labels_for
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render
from web.views.entry_forms import form_context, status_labels

FILTER_KEYS = ("member", "who", "project", "category", "status", "from", "to")


def _back(request: Request, handle: str, query: str = "") -> RedirectResponse:
    path = request.url_for("moderation", handle=handle).path
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


async def queue_page(request: Request) -> Response:
    user = require_user(request)
    filters = service.QueueFilters.from_query(request.query_params)
    page_text = request.query_params.get("page", "1")
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        page = await service.queue(db, user, association, filters, int(page_text) if page_text.isdecimal() else 1)
        labels = await labels_for(db, page.entries)
        choices = await entry_choices(db, association, [filters.category, filters.project])
        members = await service.member_choices(db, association)
        digest = await service.wants_digest(db, user, association)
    query = {k: request.query_params[k] for k in FILTER_KEYS if k in request.query_params}
    context: dict[str, Any] = {
        "association": association,
        "page": page,
        "labels": labels,
        "filters": filters,
        "query": query,
        "query_string": urlencode(query),
        "members": members,
        "categories": choices.categories,
        "projects": choices.projects,
        "status_labels": status_labels(),
        "digest": digest,
        "form": Form(),
    }
    return render(request, "entries/moderation.html", context)


async def decide(request: Request) -> Response:
    user = require_user(request)
    data = await read_form(request)
    form = Form.from_data(data, multiple=("ids",))
    action = form.text("action")
    ids_text: list[str] = list(form.values.get("ids", []))
    for key, verb in (("approve_only", "approve"), ("reject_only", "reject")):
        if form.text(key):
            ids_text, action = [form.text(key)], verb
    ids = [int(i) for i in ids_text if i.isdecimal()]
    handle = request.path_params["handle"]
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, handle, user)
        try:
            changed = await service.decide(db, user, association, ids, action == "approve", form.text("reason"))
        except ValidationError as error:
            message = error.fields.get("reason") or error.message
            flash(request, str(message), "error")
        else:
            await db.commit()
            if action == "approve":
                flash(request, ngettext("%(num)s entry approved.", "%(num)s entries approved.", len(changed)))
            else:
                flash(request, ngettext("%(num)s entry rejected.", "%(num)s entries rejected.", len(changed)))
    return _back(request, association.handle, form.text("back"))


async def enter_for_member(request: Request) -> Response:
    user = require_user(request)
    instance = request.app.state.instance
    async with instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        await require_permission(db, user, association, "manage_entries")
        form = Form({"start_date": today().isoformat()})
        if request.method == "POST":
            form = Form.from_data(await read_form(request))
            try:
                entry = await service.enter_for_member(db, instance.settings.base_url, user, association, form.values)
            except ValidationError as error:
                form.fail(error)
            else:
                await db.commit()
                flash(request, _("The time was recorded and approved: “%(title)s”.", title=entry.title))
                return _back(request, association.handle, "status=approved")
        members = await service.members(db, association)
        context: dict[str, Any] = await form_context(db, association)
    context.update({"form": form, "members": [(m.id, m.public_name) for m in members]})
    return render(request, "entries/for_member.html", context, 200 if form.ok else 400)


async def set_digest(request: Request) -> Response:
    user = require_user(request)
    form = Form.from_data(await read_form(request))
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        await service.set_digest(db, user, association, form.flag("digest"))
        await db.commit()
    if form.flag("digest"):
        flash(request, _("You will get one mail a day listing the entries waiting for approval."))
    else:
        flash(request, _("You will get a mail for each entry waiting for approval."))
    return _back(request, association.handle)


routes = [
    Route("/associations/{handle}/moderation", queue_page, name="moderation"),
    Route("/associations/{handle}/moderation/decide", decide, methods=["POST"], name="moderation_decide"),
    Route("/associations/{handle}/moderation/new", enter_for_member, methods=["GET", "POST"], name="entry_for_member"),
    Route("/associations/{handle}/moderation/digest", set_digest, methods=["POST"], name="moderation_digest"),
]
