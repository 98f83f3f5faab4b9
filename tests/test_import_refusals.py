"""Bad export files are refused with a clear error, and nothing at all is written.

Given an admin on the upload form and a file with one thing wrong, when they send it, then the page says what
is wrong (next to the field to fix) and every table has the same number of rows as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import TimeEntry
from instance.runtime import Instance
from instance.services.benevalibre_format import MAX_FILE_BYTES
from tests.associations_support import found, person
from tests.test_import_support import (
    StandInOrigin,
    export_for,
    origin,
    preview_then_import,
    row_counts,
    today_plus,
    upload,
    vector,
)

__all__ = ["origin"]

Change = Callable[[dict[str, Any]], None]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"dev_mode": True}


def first(data: dict[str, Any], model: str) -> dict[str, Any]:
    fields: dict[str, Any] = next(o["fields"] for o in data["objects"] if o["model"] == model)
    return fields


def version(data: dict[str, Any]) -> None:
    data["metadata"]["app_version"] = "1.4.2"


def future_action(data: dict[str, Any]) -> None:
    first(data, "benevalibre.benevalo")["date"] = today_plus(3)


def unknown_category(data: dict[str, Any]) -> None:
    first(data, "associations.associationbenevalocategory")["default_category"] = ["Jardinage"]


def unknown_role(data: dict[str, Any]) -> None:
    first(data, "associations.associationmembership")["role"] = ["Président", "Les Jardins de la Clouère"]


def bad_duration(data: dict[str, Any]) -> None:
    first(data, "benevalibre.benevalo")["duration"] = "trois heures"


BAD_FILES: list[tuple[str, Change, str]] = [
    ("version", version, "This export comes from Bénévalibre 1.4.2; this instance imports exports of Bénévalibre 2.x."),
    ("future", future_action, "is dated in the future"),
    ("category", unknown_category, "maps to an unknown default category “Jardinage”"),
    ("role", unknown_role, "refers to an unknown role “Président”"),
    ("duration", bad_duration, "has a duration that is not valid (trois heures)"),
]


@pytest.mark.parametrize(("case", "change", "message"), BAD_FILES, ids=[case for case, _c, _m in BAD_FILES])
async def test_a_bad_file_is_refused_and_nothing_is_written(
    app: Starlette, instance: Instance, origin: StandInOrigin, case: str, change: Change, message: str
) -> None:
    admin = await person(app, "root", admin=True)
    data = vector()
    change(data)
    before = await row_counts(instance)
    response = await upload(admin, export_for(origin, data))
    assert response.status_code == 400
    assert message in response.text
    assert 'id="e-file"' in response.text  # shown next to the file field
    assert await row_counts(instance) == before
    assert origin.requests == []  # the origin is asked only about files that can be imported


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG not json at all", "it is not JSON text"),
        (b'[{"model": "accounts.user"}]', "it has no “objects” list and “metadata”"),
        (b'{"objects": [], "metadata": {"app_version": "2.0.1"}}', "The export does not name the address"),
        (b" " * (MAX_FILE_BYTES + 1), "The file is too large: an export can have at most 20 MiB."),
    ],
    ids=["not-json", "wrong-shape", "no-endpoint", "too-large"],
)
async def test_a_file_that_is_not_an_export_is_refused(
    app: Starlette, instance: Instance, content: bytes, message: str
) -> None:
    admin = await person(app, "root", admin=True)
    before = await row_counts(instance)
    response = await upload(admin, content)
    assert response.status_code == 400
    assert message in response.text
    assert await row_counts(instance) == before


async def test_a_taken_name_is_refused_and_a_new_name_offered(
    app: Starlette, instance: Instance, origin: StandInOrigin
) -> None:
    admin = await person(app, "root", admin=True)
    assert (await found(admin, "jardins", "Les Jardins de la Clouère")).status_code == 303
    content = export_for(origin)
    before = await row_counts(instance)
    response = await upload(admin, content)
    assert response.status_code == 400
    assert "An association named “Les Jardins de la Clouère” already exists on this instance." in response.text
    assert 'id="e-rename"' in response.text
    assert await row_counts(instance) == before

    done = await preview_then_import(admin, content, rename="Jardins de la Clouère (Vienne)")
    assert done.status_code == 303
    page = await admin.get("/associations/jardins-de-la-clouere-vienne")
    assert "Jardins de la Clouère (Vienne)" in page.text


async def test_a_taken_handle_is_refused(app: Starlette, instance: Instance, origin: StandInOrigin) -> None:
    admin = await person(app, "root", admin=True)
    assert (await found(admin, "clouere", "Autre chose")).status_code == 303
    before = await row_counts(instance)
    response = await upload(admin, export_for(origin), handle="clouere")
    assert response.status_code == 400
    assert "This handle is already taken" in response.text
    assert await row_counts(instance) == before


async def test_long_durations_and_seconds_are_kept_in_minutes(
    app: Starlette, instance: Instance, origin: StandInOrigin
) -> None:
    admin = await person(app, "root", admin=True)
    data = vector()
    actions = [o for o in data["objects"] if o["model"] == "benevalibre.benevalo"]
    actions[0]["fields"]["duration"] = "1 02:00:00"  # 26 hours, as Django writes durations past a day
    actions[1]["fields"]["duration"] = "01:00:40"  # seconds: rounded to the nearest minute, and said so
    actions[2]["fields"]["duration"] = "00:10:29.999999"
    preview = await upload(admin, export_for(origin, data))
    assert preview.status_code == 200
    assert "Durations rounded to the minute (they had seconds): actions 100002, 100003." in preview.text
    assert "Every count and every total is the same in the file and here." in preview.text
    assert (await preview_then_import(admin, export_for(origin, data))).status_code == 303
    async with instance.sessions() as db:
        minutes = {
            e.title + str(e.start_date): e.duration_minutes
            for e in await db.scalars(
                select(TimeEntry).where(
                    TimeEntry.start_date.in_([dt.date(2026, 5, 8), dt.date(2026, 3, 12), dt.date(2026, 2, 17)])
                )
            )
        }
    assert sorted(minutes.values()) == [10, 61, 26 * 60]
