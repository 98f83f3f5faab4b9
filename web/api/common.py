"""What several API modules share: the usual parameters and the lookups every association route makes."""

from __future__ import annotations

from instance.models import Association
from instance.services.access import visible_association
from web.api.declare import Call, Param
from web.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from web.api.schemas import ID

CURSOR = Param("cursor", {"type": "string", "maxLength": 500}, "The next_cursor of the previous page.")
LIMIT = Param(
    "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, "Items per page."
)
HANDLE = Param("handle", {"type": "string", "maxLength": 64}, "The association's handle.", True, "path")
ENTRY_ID = Param("entry_id", ID, "The entry's id.", True, "path")
FROM = Param("from", {"type": "string", "format": "date"}, "First date (YYYY-MM-DD), included.")
TO = Param("to", {"type": "string", "format": "date"}, "Last date (YYYY-MM-DD), included.")
YEAR = Param(
    "year", {"type": "string", "maxLength": 4, "pattern": "^[0-9]{4}$"}, "A calendar year (default: this one)."
)


async def association_of(call: Call) -> Association:
    """The association of the path as the caller may see it, within the token's limit."""
    association = await visible_association(call.db, str(call.path["handle"]), call.user)
    call.caller.require_association(association)
    return association


def paging(call: Call) -> tuple[str, int]:
    return str(call.query.get("cursor", "")), int(call.query.get("limit", DEFAULT_LIMIT))
