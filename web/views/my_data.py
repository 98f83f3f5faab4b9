"""The data people own: a person's archive (``/me/data``) and an association's, for its managers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from instance.i18n import get_language
from instance.runtime import Instance
from instance.services import association_data, personal_data
from instance.services.access import visible_association
from web.archives import archive_request
from web.auth import require_user
from web.templating import render


def _zip(chunks: object, filename: str) -> StreamingResponse:
    headers = {"Content-Disposition": f'attachment; filename="{filename}.zip"', "Cache-Control": "no-store"}
    return StreamingResponse(chunks, media_type="application/zip", headers=headers)  # type: ignore[arg-type]


async def my_data(request: Request) -> Response:
    require_user(request)
    return render(request, "data/mine.html")


async def my_archive(request: Request) -> Response:
    user = require_user(request)
    instance: Instance = request.app.state.instance
    ask = await archive_request(instance, request.app.state.federation, user.id)
    return _zip(personal_data.archive(instance.sessions, ask), personal_data.archive_name(user.handle))


async def association_archive(request: Request) -> Response:
    user = require_user(request)
    instance: Instance = request.app.state.instance
    async with instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        await association_data.check_access(db, user, association)
    chunks = association_data.archive(
        instance.sessions, association, get_language(), instance.settings.default_hourly_rate
    )
    return _zip(chunks, f"benevalibre-{association.handle}-data")


routes: list[BaseRoute] = [
    Route("/me/data", my_data, name="my_data"),
    Route("/me/data/archive.zip", my_archive, name="my_archive"),
    Route("/associations/{handle}/data.zip", association_archive, name="association_archive"),
]
