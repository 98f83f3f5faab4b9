"""Reports: an association's statistics, valuation and exports; a volunteer's dashboard, exports, CEC
helper and attestation; the instance's statistics for its admins.

Access: statistics and valuation need an active membership whose role lists members or manages entries;
an association's exports need manage_entries; the volunteer's pages show only the person's own entries.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from instance.errors import ValidationError
from instance.i18n import get_language, lazy_gettext
from instance.i18n import gettext as _
from instance.models import Association, Category, Membership, MembershipStatus, Project, User
from instance.services import export_writers, exports
from instance.services.access import require_permission, visible_association
from instance.services.attestations import build_attestation
from instance.services.cec import ONE_ASSOCIATION_MINUTES, TOTAL_MINUTES, cec_year
from instance.services.report_filters import (
    EntryFilter,
    parse_period,
)
from instance.services.statistics import association_statistics, instance_statistics, volunteer_hours
from instance.services.valuation import association_valuation
from web.auth import require_admin, require_user
from web.report_helpers import (
    download,
    euros,
    export_format,
    month_names,
    params,
    report_filters,
    require_reports,
    stats_charts,
    today,
)
from web.templating import render

PERIOD_KEYS = ("year", "from", "to")


def _instance(request: Request) -> Any:
    return request.app.state.instance


# -- an association's figures ----------------------------------------------------------------------------------


async def statistics_page(request: Request) -> Response:
    user = require_user(request)
    values = params(request)
    sessions = _instance(request).sessions
    async with sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        membership = await require_reports(db, user, association)
    filters = report_filters(values)
    stats = await association_statistics(sessions, association, filters, month_names())
    context = {
        "association": association,
        "stats": stats,
        "filters": filters,
        "values": values,
        "charts": stats_charts(stats.by_month, stats.by_category, stats.by_project),
        "can_export": membership.role.allows("manage_entries"),
        "this_year": today().year,
        "query": urlencode({k: v for k, v in values.items() if k in PERIOD_KEYS or k == "pending"}),
        "export_query": urlencode(
            {**{k: v for k, v in values.items() if k in PERIOD_KEYS}, "status": filters.status_code}
        ),
    }
    return render(request, "reports/statistics.html", context)


async def valuation_page(request: Request) -> Response:
    user = require_user(request)
    values = params(request)
    instance = _instance(request)
    async with instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        await require_reports(db, user, association)
        filters = report_filters(values)
        valuation = await association_valuation(db, instance.settings, association, filters)
    context = {
        "association": association,
        "valuation": valuation,
        "filters": filters,
        "values": values,
        "euros": euros,
        "this_year": today().year,
        "today": today(),
    }
    return render(request, "reports/valuation.html", context)


# -- exports ---------------------------------------------------------------------------------------------------


def _export_filters(values: dict[str, str], default_status: str, user_id: int | None = None) -> EntryFilter:
    return EntryFilter.for_export(values, today(), default_status, user_id)


def _file_suffix(filters: EntryFilter) -> str:
    if filters.period is None:
        return "all"
    year = filters.period.calendar_year
    return str(year) if year else f"{filters.period.start.isoformat()}_{filters.period.end.isoformat()}"


def _stream(request: Request, scope: exports.ExportScope, fmt: str, filename: str, sheet: str) -> Response:
    labels = exports.Labels.current()
    batches = exports.entry_batches(_instance(request).sessions, scope, labels)
    if fmt == "csv":
        chunks = export_writers.csv_chunks(batches, labels.header, french=get_language() == "fr")
    elif fmt == "xlsx":
        chunks = export_writers.xlsx_chunks(batches, labels.header, sheet)
    else:
        chunks = export_writers.ods_chunks(batches, labels.header, sheet)
    return download(chunks, filename, fmt)


async def association_export(request: Request) -> Response:
    user = require_user(request)
    fmt = export_format(request)
    instance = _instance(request)
    async with instance.sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        await require_permission(db, user, association, "manage_entries")
    filters = _export_filters(params(request), "approved")
    scope = exports.ExportScope(filters, association.id, instance.settings.default_hourly_rate)
    filename = f"benevalibre-{association.handle}-{_file_suffix(filters)}"
    return _stream(request, scope, fmt, filename, str(_("Entries")))


async def association_export_form(request: Request) -> Response:
    user = require_user(request)
    async with _instance(request).sessions() as db:
        association = await visible_association(db, request.path_params["handle"], user)
        await require_permission(db, user, association, "manage_entries")
        members = (
            await db.execute(
                select(User.id, User.display_name, User.handle)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.association_id == association.id, Membership.status == MembershipStatus.ACTIVE)
                .order_by(User.display_name, User.handle)
            )
        ).all()
        projects = (await db.execute(_catalog(Project, association))).all()
        categories = (await db.execute(_catalog(Category, association))).all()
    context = {
        "association": association,
        "members": [(m[0], m[1] or m[2]) for m in members],
        "projects": projects,
        "categories": categories,
        "values": params(request),
        "this_year": today().year,
    }
    return render(request, "reports/export_form.html", context)


def _catalog(model: type[Project] | type[Category], association: Association) -> Any:
    return select(model.id, model.name).where(model.association_id == association.id).order_by(model.name)


async def my_export(request: Request) -> Response:
    user = require_user(request)
    fmt = export_format(request)
    filters = _export_filters(params(request), "all", user_id=user.id)
    scope = exports.ExportScope(filters, None, _instance(request).settings.default_hourly_rate)
    return _stream(request, scope, fmt, f"benevalibre-{user.handle}-{_file_suffix(filters)}", str(_("My entries")))


# -- the volunteer's own pages ---------------------------------------------------------------------------------


async def dashboard(request: Request) -> Response:
    user = require_user(request)
    year = today().year
    async with _instance(request).sessions() as db:
        rows = await volunteer_hours(db, user, year)
    totals = {
        key: sum(getattr(r, key) for r in rows)
        for key in ("approved_year", "pending_year", "approved_total", "pending_total")
    }
    return render(request, "reports/dashboard.html", {"rows": rows, "totals": totals, "year": year})


def _year(values: dict[str, str]) -> int:
    text = values.get("year", "").strip()
    if not text:
        return today().year - 1 if today().month <= 6 else today().year
    if not text.isdecimal() or not 1900 <= int(text) <= 2200:
        raise ValidationError({"year": lazy_gettext("Please give a year such as 2025.")})
    return int(text)


async def cec_page(request: Request) -> Response:
    user = require_user(request)
    year = _year(params(request))
    async with _instance(request).sessions() as db:
        cec = await cec_year(db, user, year)
    context = {
        "cec": cec,
        "year": year,
        "total_hours": TOTAL_MINUTES // 60,
        "one_hours": ONE_ASSOCIATION_MINUTES // 60,
        "years": list(range(today().year, today().year - 6, -1)),
    }
    return render(request, "reports/cec.html", context)


async def cec_csv(request: Request) -> Response:
    user = require_user(request)
    year = _year(params(request))
    instance = _instance(request)
    async with instance.sessions() as db:
        cec = await cec_year(db, user, year)
    header = [_("Year"), _("Association"), _("Address"), _("Approved entries"), _("Hours"), _("From"), _("To")]
    rows = [header]
    for line in cec.lines:
        if line.minutes:
            rows.append(
                [
                    str(year),
                    line.association.name,
                    instance.url(f"/associations/{line.association.handle}"),
                    str(line.entries),
                    exports.hhmm(line.minutes),
                    line.first_date.isoformat() if line.first_date else "",
                    line.last_date.isoformat() if line.last_date else "",
                ]
            )
    rows.append([str(year), _("Total"), "", str(sum(r.entries for r in cec.lines)), exports.hhmm(cec.minutes), "", ""])
    header_row, *body = rows

    async def chunks() -> Any:
        async def batches() -> Any:
            yield [tuple(r) for r in body]

        async for chunk in export_writers.csv_chunks(batches(), tuple(header_row), get_language() == "fr"):
            yield chunk

    return download(chunks(), f"cec-{year}", "csv")


async def _attestation(request: Request) -> Any:
    user = require_user(request)
    values = params(request)
    async with _instance(request).sessions() as db:
        period = parse_period(values, today())
        assert period is not None
        db_user = await db.get(User, user.id)
        assert db_user is not None
        return await build_attestation(db, db_user, values.get("association", ""), period, today())


async def attestation_page(request: Request) -> Response:
    user = require_user(request)
    values = params(request)
    if not values.get("association"):
        async with _instance(request).sessions() as db:
            rows = await volunteer_hours(db, user, today().year)
        choices = [(r.association.handle, r.association.name) for r in rows]
        return render(
            request, "reports/attestation_form.html", {"choices": choices, "values": values, "year": today().year}
        )
    attestation = await _attestation(request)
    context = {"attestation": attestation, "values": values, "association_url": _association_url(request, attestation)}
    return render(request, "reports/attestation.html", context)


def _association_url(request: Request, attestation: Any) -> str:
    return str(_instance(request).url(f"/associations/{attestation.association.handle}"))


async def attestation_download(request: Request) -> Response:
    attestation = await _attestation(request)
    from instance.services.attestation_pdf import attestation_pdf  # fpdf2 weighs ~19 MiB: loaded on first use

    pdf = attestation_pdf(attestation, _association_url(request, attestation))
    filename = f"attestation-{attestation.association.handle}-{attestation.period.start.year}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


# -- the instance ---------------------------------------------------------------------------------------------


async def admin_statistics(request: Request) -> Response:
    require_admin(request)
    values = params(request)
    text = values.get("year", "").strip()
    year: int | None = None
    if text and text != "all":
        if not text.isdecimal() or not 1900 <= int(text) <= 2200:
            raise ValidationError({"year": lazy_gettext("Please give a year such as 2025.")})
        year = int(text)
    async with _instance(request).sessions() as db:
        stats = await instance_statistics(db, year)
    years = list(range(today().year, today().year - 6, -1))
    return render(request, "reports/admin_statistics.html", {"stats": stats, "year": year, "years": years})


routes: list[BaseRoute] = [
    Route("/associations/{handle}/statistics", statistics_page, name="association_statistics"),
    Route("/associations/{handle}/valuation", valuation_page, name="association_valuation"),
    Route("/associations/{handle}/exports", association_export_form, name="association_exports"),
    Route("/associations/{handle}/export.{fmt}", association_export, name="association_export"),
    Route("/me/entries/export.{fmt}", my_export, name="my_export"),
    Route("/dashboard", dashboard, name="dashboard"),
    Route("/me/cec", cec_page, name="cec"),
    Route("/me/cec.csv", cec_csv, name="cec_csv"),
    Route("/me/attestation", attestation_page, name="attestation"),
    Route("/me/attestation.pdf", attestation_download, name="attestation_pdf"),
    Route("/admin/statistics", admin_statistics, name="admin_statistics"),
]
