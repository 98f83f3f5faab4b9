"""Anonymous entry links: the managers' list, and the minimal form people without an account use."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from instance.errors import ValidationError
from instance.i18n import gettext as _
from instance.services import anonymous as service
from instance.services.access import visible_association
from instance.services.entries import today
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render
from web.views.entry_forms import form_context


async def links_page(request: Request) -> Response:
    user = require_user(request)
    instance = request.app.state.instance
    form = Form()
    async with instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        if request.method == "POST":
            form = Form.from_data(await read_form(request))
            try:
                link = await service.create_link(db, user, association, form.values)
            except ValidationError as error:
                form.fail(error)
            else:
                await db.commit()
                flash(request, _("The link “%(name)s” was created: share its address.", name=link.name))
                return RedirectResponse(request.url_for("anonymous_links", handle=association.handle).path, 303)
        links = await service.list_links(db, user, association)
    context: dict[str, Any] = {
        "association": association,
        "links": [(link, instance.url(service.link_path(link)), service.is_usable(link)) for link in links],
        "form": form,
        "today": today().isoformat(),
    }
    return render(request, "anonymous/links.html", context, 200 if form.ok else 400)


async def disable_link(request: Request) -> Response:
    user = require_user(request)
    await read_form(request)
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        link = await service.disable_link(db, user, association, request.path_params["link_id"])
        await db.commit()
    flash(request, _("The link “%(name)s” no longer works.", name=link.name))
    return RedirectResponse(request.url_for("anonymous_links", handle=association.handle).path, 303)


async def anonymous_entry(request: Request) -> Response:
    instance = request.app.state.instance
    token = request.path_params["token"]
    async with instance.sessions() as db:
        try:
            link, association = await service.open_link(db, token)
        except service.LinkGone as error:
            return render(request, "anonymous/gone.html", {"message": str(error.message)}, 410)
        form = Form({"start_date": today().isoformat()})
        if request.method == "POST":
            form = Form.from_data(await read_form(request))
            try:
                entry = await service.create_anonymous_entry(db, instance.settings.base_url, token, form.values)
            except ValidationError as error:
                form.fail(error)
            else:
                await db.commit()
                flash(request, _("Thank you! Your time was recorded: “%(title)s”.", title=entry.title))
                return RedirectResponse(request.url_for("anonymous_entry", token=token).path, 303)
        context: dict[str, Any] = await form_context(db, association)
    context.update({"form": form, "link": link})
    return render(request, "anonymous/entry.html", context, 200 if form.ok else 400)


routes = [
    Route("/associations/{handle}/anonymous-links", links_page, methods=["GET", "POST"], name="anonymous_links"),
    Route(
        "/associations/{handle}/anonymous-links/{link_id:int}/disable",
        disable_link,
        methods=["POST"],
        name="anonymous_link_disable",
    ),
    Route("/a/{token}", anonymous_entry, methods=["GET", "POST"], name="anonymous_entry"),
]
