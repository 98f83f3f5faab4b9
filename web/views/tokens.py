"""The person's API access tokens (``/me/tokens``): made, named, scoped and revoked from the profile area."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from instance.errors import ValidationError
from instance.i18n import gettext as _
from instance.models import Association, User
from instance.services import tokens
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import flash, render


async def _page(request: Request, user: User, form: Form, status: int = 200) -> Response:
    async with request.app.state.instance.sessions() as db:
        live = await tokens.live_tokens(db, user)
        choices = await tokens.association_choices(db, user)
        ids = {t.association_id for t in live if t.association_id is not None}
        rows = await db.execute(select(Association.id, Association.name).where(Association.id.in_(ids)))
        names = {int(i): str(n) for i, n in rows.all()}
    context = {
        "tokens": live,
        "association_names": names,
        "choices": [(a.handle, a.name) for a in choices],
        "scopes": [("read", _("Read only")), ("write", _("Read and write"))],
        "form": form,
    }
    return render(request, "tokens/list.html", context, status)


async def token_list(request: Request) -> Response:
    user = require_user(request)
    if request.method == "GET":
        return await _page(request, user, Form({"scope": "read"}))
    form = Form.from_data(await read_form(request))
    async with request.app.state.instance.sessions() as db:
        try:
            made = await tokens.create_token(
                db, user, name=form.text("name"), scope=form.text("scope"), association=form.text("association")
            )
        except ValidationError as error:
            return await _page(request, user, form.fail(error), 400)
        await db.commit()
    response = render(request, "tokens/created.html", {"token": made.token, "secret": made.secret})
    response.headers["Cache-Control"] = "no-store"
    return response


async def revoke(request: Request) -> Response:
    user = require_user(request)
    await read_form(request)
    async with request.app.state.instance.sessions() as db:
        token = await tokens.revoke_token(db, user, request.path_params["token_id"])
        await db.commit()
    flash(request, _("The token “%(name)s” is revoked: it no longer works.", name=token.name))
    return RedirectResponse(str(request.app.url_path_for("api_tokens")), status_code=303)


routes: list[BaseRoute] = [
    Route("/me/tokens", token_list, methods=["GET", "POST"], name="api_tokens"),
    Route("/me/tokens/{token_id:int}/revoke", revoke, methods=["POST"], name="api_token_revoke"),
]
