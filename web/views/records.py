"""Verifiable records: a volunteer downloads theirs (``/me/record``); anyone checks one (``/verify``)."""

from __future__ import annotations

import datetime as dt
import json

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import record
from federation.runtime import Federation
from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.models import User
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import render

MAX_RECORD_BYTES = 4 * 1024 * 1024


def _period(form: Form) -> tuple[dt.date, dt.date] | None:
    try:
        start = dt.date.fromisoformat(form.text("start"))
        end = dt.date.fromisoformat(form.text("end"))
    except ValueError:
        return None
    return (start, end) if start <= end else None


async def my_record(request: Request) -> Response:
    """The form (period, this year by default), or with a period the record as a JSON file."""
    user = require_user(request)
    year = dt.date.today().year
    form = Form({"start": f"{year}-01-01", "end": f"{year}-12-31", **request.query_params})
    if "start" not in request.query_params:
        return render(request, "records/mine.html", {"form": form})
    period = _period(form)
    if period is None:
        form.fail(
            ValidationError({"start": lazy_gettext("Please give two dates, the first one not after the second.")})
        )
        return render(request, "records/mine.html", {"form": form}, 400)
    federation: Federation = request.app.state.federation
    async with federation.sessions() as db:
        person = await db.get(User, user.id)
        assert person is not None
        document = await record.build_record(db, federation.settings, person, *period)
        await db.commit()  # keys created for local associations that had none yet
    name = f"benevalibre-record-{user.handle}-{period[0]}-{period[1]}.json"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(body, media_type="application/json", headers=headers)


async def verify_page(request: Request) -> Response:
    """Check a record against the keys the associations publish now; a form to paste or upload it."""
    if request.method == "GET":
        return render(request, "records/verify.html", {"form": Form(), "results": None})
    data = await read_form(request, max_part_size=MAX_RECORD_BYTES)
    form = Form({"record": str(data.get("record") or "")})
    upload = data.get("file")
    text = form.text("record")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_RECORD_BYTES + 1)
        text = "" if len(raw) > MAX_RECORD_BYTES else raw.decode("utf-8", "replace")
    await data.close()
    federation: Federation = request.app.state.federation
    try:
        document = json.loads(text)
        async with federation.sessions() as db:
            keys = await record.published_keys(db, federation.settings, federation.client, document)
            await db.commit()
        results = record.verify_record(document, keys)
    except (ValueError, AttributeError):
        form.fail(
            ValidationError({"record": lazy_gettext("This is not a record downloaded from a Bénévalibre instance.")})
        )
        return render(request, "records/verify.html", {"form": form, "results": None}, 400)
    context = {
        "form": form,
        "results": results,
        "volunteer": document.get("name", ""),
        "period": document.get("period"),
    }
    return render(request, "records/verify.html", context)


routes: list[BaseRoute] = [
    Route("/me/record", my_record, name="my_record"),
    Route("/verify", verify_page, methods=["GET", "POST"], name="verify_record"),
]
