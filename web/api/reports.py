"""An association's figures: statistics, valuation, the CSV export and the data archive."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response, StreamingResponse

from instance.i18n import get_language
from instance.services import association_data
from instance.services.access import require_permission
from instance.services.report_filters import EntryFilter
from instance.services.statistics import association_statistics
from instance.services.valuation import association_valuation
from web.api import serialize
from web.api.common import FROM, HANDLE, TO, YEAR, association_of
from web.api.declare import Call, Endpoint, Example, Param
from web.api.exports import EXPORT_PARAMS, csv_download, export_values
from web.api.schemas import ID, ref
from web.report_helpers import month_names, report_filters, require_reports, today

TAG = "Reports"
PENDING = Param("pending", {"type": "boolean"}, "Count pending entries too (default: approved ones only).")
MEMBER = Param("member", ID, "Only this member's entries (id).")
PROJECT = Param("project", ID, "Only this project's entries (id).")
CATEGORY = Param("category", ID, "Only this category's entries (id).")


def _filters(call: Call) -> EntryFilter:
    values: dict[str, str] = {name: str(call.query[name]) for name in ("year", "from", "to") if name in call.query}
    if call.query.get("pending"):
        values["pending"] = "1"
    return report_filters(values)


async def statistics(call: Call) -> dict[str, Any]:
    association = await association_of(call)
    await require_reports(call.db, call.user, association)
    filters = _filters(call)
    stats = await association_statistics(call.instance.sessions, association, filters, month_names())
    breakdowns = ("by_month", "by_project", "by_category", "by_common_category", "by_level", "by_member")
    return {
        "period": serialize.period(filters.period),
        "totals": serialize.row(stats.totals),
        **{name: [serialize.row(r) for r in getattr(stats, name)] for name in breakdowns},
    }


async def valuation(call: Call) -> dict[str, Any]:
    association = await association_of(call)
    await require_reports(call.db, call.user, association)
    filters = _filters(call)
    found = await association_valuation(call.db, call.instance.settings, association, filters)
    return {
        "period": serialize.period(filters.period),
        "default_rate": serialize.decimal(found.default_rate),
        "lines": [
            {
                "level_id": line.level_id,
                "name": line.name,
                "rate": serialize.decimal(line.rate),
                "entries": line.entries,
                "minutes": line.minutes,
                "hours": serialize.decimal(line.hours),
                "amount": serialize.decimal(line.amount),
            }
            for line in found.lines
        ],
        "entries": found.entries,
        "minutes": found.minutes,
        "hours": serialize.decimal(found.hours),
        "total": serialize.decimal(found.total),
    }


async def export(call: Call) -> Response:
    association = await association_of(call)
    await require_permission(call.db, call.user, association, "manage_entries")
    values = export_values(call)
    for name in ("member", "project", "category"):
        if name in call.query:
            values[name] = str(call.query[name])
    filters = EntryFilter.for_export(values, today(), "approved")
    return csv_download(call, filters, association.id, f"benevalibre-{association.handle}")


async def archive(call: Call) -> Response:
    association = await association_of(call)
    await association_data.check_access(call.db, call.user, association)
    chunks = association_data.archive(
        call.instance.sessions, association, get_language(), call.instance.settings.default_hourly_rate
    )
    headers = {
        "Content-Disposition": f'attachment; filename="benevalibre-{association.handle}-data.zip"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(chunks, media_type="application/zip", headers=headers)


PERIOD_PARAMS = (HANDLE, YEAR, FROM, TO, PENDING)
BASE = "/api/v1/associations/{handle}"
endpoints = [
    Endpoint(
        "GET",
        f"{BASE}/statistics",
        statistics,
        "Statistics of a year or a period (for roles that list members or manage entries)",
        params=PERIOD_PARAMS,
        response=ref("Statistics"),
        example=Example(query={"year": "2025"}),
        tag=TAG,
    ),
    Endpoint(
        "GET",
        f"{BASE}/valuation",
        valuation,
        "The money value of the time given (accounts 864 and 875)",
        params=PERIOD_PARAMS,
        response=ref("Valuation"),
        example=Example(query={"from": "2025-01-01", "to": "2025-06-30"}),
        tag=TAG,
    ),
    Endpoint(
        "GET",
        f"{BASE}/entries.csv",
        export,
        "The association's entries as a CSV file (for roles that manage entries)",
        params=(HANDLE, *EXPORT_PARAMS, MEMBER, PROJECT, CATEGORY),
        media_type="text/csv",
        example=Example(query={"year": "all", "status": "all"}),
        tag=TAG,
    ),
    Endpoint(
        "GET",
        f"{BASE}/archive",
        archive,
        "All the association's data as a ZIP archive (for its managers)",
        params=(HANDLE,),
        media_type="application/zip",
        tag=TAG,
        description="association.json, roles.json, members.json, catalog.json, entries.json and entries.csv.",
    ),
]
