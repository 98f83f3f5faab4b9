"""News notes of an association: managers publish them from its page; each note is also an ActivityPub ``Note``
at ``/associations/{handle}/news/{id}`` (browsers are sent to the association's page)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from federation import news as federation_news
from federation.actors import with_context
from federation.discovery import public_association
from instance.errors import NotFound, ValidationError
from instance.i18n import gettext as _
from instance.i18n import lazy_gettext
from instance.models import News, User
from instance.services import news as service
from instance.services.access import visible_association
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash
from web.views.activitypub import NegotiatedRoute, activity_json


async def publish(request: Request) -> Response:
    user = require_user(request)
    form = Form.from_data(await read_form(request))
    async with request.app.state.instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        person = await db.get(User, user.id)
        try:
            await service.publish_news(db, person, association, form.text("text"))
        except ValidationError as error:
            flash(request, " ".join(str(m) for m in error.fields.values()), "error")
        else:
            await db.commit()
            flash(request, _("The news is published."))
    target = request.app.url_path_for("association", handle=association.handle)
    return RedirectResponse(str(target), status_code=303)


async def note(request: Request) -> Response:
    instance = request.app.state.instance
    async with instance.sessions() as db:
        association = await public_association(db, request.path_params["handle"])
        news = await db.get(News, request.path_params["news_id"])
        if association is None or news is None or news.association_id != association.id:
            raise NotFound(lazy_gettext("There is no such news here."))
        return activity_json(with_context(federation_news.note(instance.settings, association, news)))


async def note_page(request: Request) -> Response:
    target = request.app.url_path_for("association", handle=request.path_params["handle"])
    return RedirectResponse(str(target), status_code=303)


routes: list[BaseRoute] = [
    Route("/associations/{handle}/news", publish, methods=["POST"], name="news_publish"),
    NegotiatedRoute("/associations/{handle}/news/{news_id:int}", note, html=note_page, name="ap_news"),
]
