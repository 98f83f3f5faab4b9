"""CSV exports through the API: the same rows and columns as the export pages, streamed."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from instance.i18n import get_language
from instance.services import export_writers, exports
from instance.services.report_filters import EntryFilter
from web.api.common import FROM, TO
from web.api.declare import Call, Param
from web.report_helpers import download

EXPORT_PARAMS = (
    Param(
        "year",
        {"type": "string", "pattern": "^([0-9]{4}|all)$"},
        "A calendar year, or all (default: this year).",
    ),
    FROM,
    TO,
    Param(
        "status",
        {"enum": ["approved", "pending", "rejected", "withdrawn", "counted", "all"]},
        "Which entries (counted: approved and pending).",
    ),
)


def export_values(call: Call) -> dict[str, str]:
    """The export parameters as the report services read them (strings)."""
    return {name: str(value) for name, value in call.query.items() if name in ("year", "from", "to", "status")}


def csv_download(call: Call, filters: EntryFilter, association_id: int | None, filename: str) -> Response:
    """The rows ``filters`` select as a streamed CSV file, in the caller's language."""
    labels = exports.Labels.current()
    scope = exports.ExportScope(filters, association_id, call.instance.settings.default_hourly_rate)
    batches = exports.entry_batches(call.instance.sessions, scope, labels)
    chunks: Any = export_writers.csv_chunks(batches, labels.header, french=get_language() == "fr")
    return download(chunks, filename, "csv")
