"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of what the API sends and accepts."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STATUSES = ["pending", "approved", "rejected", "withdrawn"]
ID: Schema = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}  # ids are 32-bit integers in PostgreSQL
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
DECIMAL: Schema = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "A decimal number, as text."}
DATE: Schema = {"type": "string", "format": "date"}
STAMP: Schema = {"type": "string", "format": "date-time"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these properties, all present unless ``optional``."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def page_of(name: str) -> Schema:
    return obj({"items": {"type": "array", "items": ref(name)}, "next_cursor": NULLABLE_STRING})


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


REFERENCE = obj({"id": {"type": "integer"}, "name": {"type": "string"}})
ROW = obj(
    {
        "key": {"type": ["string", "integer", "null"]},
        "label": {"type": "string"},
        "entries": {"type": "integer"},
        "volunteers": {"type": "integer"},
        "minutes": {"type": "integer"},
        "km": DECIMAL,
    }
)
PERIOD = nullable(obj({"start": DATE, "end": DATE}))

COMPONENTS: dict[str, Schema] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                }
            )
        }
    ),
    "Me": obj(
        {
            "id": {"type": "integer"},
            "handle": {"type": "string"},
            "address": {"type": "string", "description": "@handle@host"},
            "display_name": {"type": "string"},
            "pseudonym": {"type": "string"},
            "public_name": {"type": "string"},
            "email": {"type": "string"},
            "language": {"type": "string"},
            "created_at": STAMP,
            "unread_notifications": {"type": "integer"},
            "token": obj(
                {
                    "name": {"type": "string"},
                    "scope": {"enum": ["read", "write"]},
                    "association": NULLABLE_STRING,
                }
            ),
        }
    ),
    "Reference": REFERENCE,
    "Entry": obj(
        {
            "id": {"type": "integer"},
            "association": {"type": "string", "description": "The association's handle."},
            "association_name": {"type": "string"},
            "member": {**NULLABLE_STRING, "description": "Handle of the volunteer; null without an account."},
            "participant": {"type": "string", "description": "The name shown for the volunteer."},
            "status": {"enum": STATUSES},
            "start_date": DATE,
            "end_date": nullable(DATE),
            "duration_minutes": {"type": "integer"},
            "distance_km": DECIMAL,
            "title": {"type": "string"},
            "description": {"type": "string"},
            "category": ref("Reference"),
            "level": nullable(ref("Reference")),
            "project": nullable(ref("Reference")),
            "rejection_reason": {"type": "string"},
            "created_at": STAMP,
            "updated_at": STAMP,
            "decided_at": nullable(STAMP),
        }
    ),
    "AssociationSummary": obj(
        {
            "handle": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "postal_code": {"type": "string"},
            "url": {"type": "string"},
        }
    ),
    "Association": obj(
        {
            "handle": {"type": "string"},
            "address": {"type": "string"},
            "remote": {"type": "boolean", "description": "An association of another instance, which decides there."},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "website": {"type": "string"},
            "activity_fields": {"type": "array", "items": {"type": "string"}},
            "postal_code": {"type": "string"},
            "url": {"type": "string"},
            "status": {"enum": ["pending", "active", "refused"]},
            "moderate_membership": {"type": "boolean"},
            "moderate_entries": {"type": "boolean"},
            "members": {"type": "integer"},
            "membership": nullable(ref("Membership")),
        }
    ),
    "Membership": obj(
        {
            "id": {"type": "integer"},
            "association": {"type": "string"},
            "association_name": {"type": "string"},
            "member": {"type": "string"},
            "member_name": {"type": "string"},
            "role": {"type": "string"},
            "status": {"enum": ["pending", "active"]},
            "permissions": {"type": "array", "items": {"type": "string"}},
            "message": {"type": "string"},
            "created_at": STAMP,
        }
    ),
    "CatalogItem": obj(
        {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "archived": {"type": "boolean"},
            "common_category": {"type": "string"},
            "hourly_rate": DECIMAL,
        },
        optional=("common_category", "hourly_rate"),
    ),
    "Catalog": obj(
        {kind: {"type": "array", "items": ref("CatalogItem")} for kind in ("categories", "levels", "projects")}
    ),
    "Notification": obj(
        {
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "text": {"type": "string"},
            "link": {"type": "string"},
            "created_at": STAMP,
            "read_at": nullable(STAMP),
        }
    ),
    "Row": ROW,
    "Statistics": obj(
        {
            "period": PERIOD,
            "totals": ref("Row"),
            **{
                name: {"type": "array", "items": ref("Row")}
                for name in ("by_month", "by_project", "by_category", "by_common_category", "by_level", "by_member")
            },
        }
    ),
    "Valuation": obj(
        {
            "period": PERIOD,
            "default_rate": DECIMAL,
            "lines": {
                "type": "array",
                "items": obj(
                    {
                        "level_id": {"type": ["integer", "null"]},
                        "name": {"type": "string"},
                        "rate": DECIMAL,
                        "entries": {"type": "integer"},
                        "minutes": {"type": "integer"},
                        "hours": DECIMAL,
                        "amount": DECIMAL,
                    }
                ),
            },
            "entries": {"type": "integer"},
            "minutes": {"type": "integer"},
            "hours": DECIMAL,
            "total": {**DECIMAL, "description": "Accounts 864 (debit) and 875 (credit), in euros."},
        }
    ),
    "Decisions": obj({"changed": {"type": "array", "items": {"type": "integer"}}}),
    "ReadCount": obj({"marked": {"type": "integer"}, "unread": {"type": "integer"}}),
}

for _name in ("Entry", "Membership", "AssociationSummary", "Notification"):
    COMPONENTS[f"{_name}Page"] = page_of(_name)

# -- request bodies (self-contained: no references) --------------------------------------------------------

SHORT_TEXT: Schema = {"type": "string", "maxLength": 5000}
ID_OR_NULL: Schema = {**ID, "type": ["integer", "null"]}


def entry_body(*, create: bool) -> Schema:
    properties: dict[str, Schema] = {
        "start_date": {"type": "string", "maxLength": 10, "description": "YYYY-MM-DD, not in the future."},
        "end_date": {"type": ["string", "null"], "maxLength": 10},
        "duration_minutes": {"type": "integer", "minimum": 0, "maximum": 10**6},
        "distance_km": {"type": ["number", "string"], "maxLength": 20, "description": "Kilometres, two decimals."},
        "title": {"type": "string", "maxLength": 500},
        "description": SHORT_TEXT,
        "category_id": ID_OR_NULL,
        "level_id": ID_OR_NULL,
        "project_id": ID_OR_NULL,
    }
    required: list[str] = []
    if create:
        properties = {"association": {"type": "string", "maxLength": 64}, **properties}
        required = ["association", "title"]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
