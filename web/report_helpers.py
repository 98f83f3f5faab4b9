"""What the report pages share: reading their filters from the query string, files to download, charts."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Literal

from babel.dates import get_month_names
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import StreamingResponse

from instance.errors import NotFound, PermissionDenied
from instance.i18n import get_language, lazy_gettext
from instance.i18n import gettext as _
from instance.models import Association, Membership, User
from instance.services.access import active_membership
from instance.services.report_filters import APPROVED_ONLY, COUNTED, EntryFilter, parse_period
from instance.services.statistics import Row
from web import charts
from web.templating import format_duration, format_number

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}


def params(request: Request) -> dict[str, str]:
    return {key: value for key, value in request.query_params.items() if isinstance(value, str)}


def today() -> dt.date:
    return dt.date.today()


def export_format(request: Request) -> str:
    fmt = str(request.path_params.get("fmt", ""))
    if fmt not in FORMATS:
        raise NotFound(lazy_gettext("Exports come as csv, xlsx or ods files."))
    return fmt


def download(chunks: AsyncIterator[bytes], filename: str, fmt: str) -> StreamingResponse:
    """A streamed file download (``filename`` is ASCII, made by us)."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}.{fmt}"', "Cache-Control": "no-store"}
    return StreamingResponse(chunks, media_type=FORMATS.get(fmt, "application/octet-stream"), headers=headers)


def month_names(width: Literal["abbreviated", "narrow", "wide"] = "wide") -> dict[int, str]:
    return {int(k): str(v) for k, v in get_month_names(width, locale=get_language()).items()}


async def require_reports(db: AsyncSession, user: User, association: Association) -> Membership:
    """Statistics and valuation are for active members whose role lists members or manages entries
    (managing the association implies both)."""
    membership = await active_membership(db, user, association)
    if membership is None or not (membership.role.allows("list_members") or membership.role.allows("manage_entries")):
        raise PermissionDenied(lazy_gettext("Your role in this association does not allow this."))
    return membership


def report_filters(values: dict[str, str]) -> EntryFilter:
    """The statistics filters: a period, approved entries only or (``pending=1``) pending ones too."""
    period = parse_period(values, today())
    return EntryFilter(period=period, statuses=COUNTED if values.get("pending") == "1" else APPROVED_ONLY)


def hours_text(value: int | float | Decimal) -> str:
    """Minutes shown as hours, for chart figures."""
    return format_duration(int(value))


def stats_charts(by_month: list[Row], by_category: list[Row], by_project: list[Row]) -> dict[str, Markup]:
    short = month_names("abbreviated")
    months = [(short.get(r.key[1], r.label) if isinstance(r.key, tuple) else r.label, r.minutes) for r in by_month]
    if len({r.key[0] for r in by_month if isinstance(r.key, tuple)}) > 1:
        months = [(f"{r.key[1]:02d}/{r.key[0] % 100:02d}", r.minutes) for r in by_month]
    categories = [(r.label or _("Without category"), r.minutes) for r in by_category]
    projects = [(r.label or _("Without project"), r.minutes) for r in by_project]
    return {
        "months": charts.vertical_bars(
            "chart-months", _("Hours per month"), _("Hours given each month of the period."), months, hours_text
        ),
        "categories": charts.horizontal_bars(
            "chart-categories", _("Hours by category"), _("Hours given in each category."), categories, hours_text
        ),
        "projects": charts.horizontal_bars(
            "chart-projects", _("Hours by project"), _("Hours given to each project."), projects, hours_text
        ),
    }


def euros(value: Decimal) -> str:
    return format_number(value, 2) + " €"
