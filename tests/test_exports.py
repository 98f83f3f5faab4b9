"""Exports of entries (CSV, XLSX, ODS) for managers and for volunteers: they parse back with the right rows,
follow the filters, refuse who may not export, and stream.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
import pytest
from defusedxml import ElementTree
from sqlalchemy import insert

from instance.models import EntryStatus, TimeEntry
from instance.runtime import Instance
from tests.conftest import make_client
from tests.test_reports_support import Seed, as_user, make_seed

EXPORT = "/associations/jardins/export"
ODS_NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


@pytest.fixture
async def seed(instance: Instance) -> Seed:
    return await make_seed(instance)


def read_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark, for Excel
    text = response.content.decode("utf-8-sig")
    delimiter = ";" if response.request.headers.get("accept-language") == "fr" else ","
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


async def test_csv_in_english_has_the_documented_columns(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice) as client:
        response = await client.get(f"{EXPORT}.csv?year=2025")
    assert 'filename="benevalibre-jardins-2025.csv"' in response.headers["content-disposition"]
    header, *rows = read_csv(response)
    assert header == [
        "Name", "Pseudonym", "Association", "Title", "Description", "Date", "End date", "Duration (HH:MM)",
        "Hours (decimal)", "Status", "Distance (km)", "Category", "Common category", "Project", "Level",
        "Hourly value (EUR)", "Valuation (EUR)",
    ]  # fmt: skip
    # Approved entries of 2025 by date: 1 (bob, 10 Jan), 2 (bob, 5 Mar), 3 (carol, 20 Mar), 7 (Zoé, 1 May).
    assert [(r[0], r[5]) for r in rows] == [
        ("Bob Durand", "2025-01-10"),
        ("Bob Durand", "2025-03-05"),
        ("Carole Petit", "2025-03-20"),
        ("Zoé Anonyme", "2025-05-01"),
    ]
    first = dict(zip(header, rows[0], strict=True))
    assert first["Association"] == "Les Jardins Partagés"
    assert first["Title"] == "Assemblée générale"
    assert first["Duration (HH:MM)"] == "01:30"
    assert first["Hours (decimal)"] == "1.50"
    assert first["Status"] == "Approved"
    assert first["Distance (km)"] == "12.50"
    assert first["Common category"].startswith("Taking part in the association")
    assert first["Project"] == "Fête de quartier"
    assert first["Level"] == "Animateur"
    # 90 min at 15.00 €/h = 22.50 €
    assert (first["Hourly value (EUR)"], first["Valuation (EUR)"]) == ("15.00", "22.50")
    zoe = dict(zip(header, rows[3], strict=True))
    # No level: the default 11.88 €/h; 47 min × 11.88 / 60 = 558.36 / 60 = 9.306 → 9.31 €
    assert (zoe["Level"], zoe["Hourly value (EUR)"], zoe["Valuation (EUR)"]) == ("", "11.88", "9.31")


async def test_csv_in_french_uses_semicolons_and_decimal_commas(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice, language="fr") as client:
        response = await client.get(f"{EXPORT}.csv?year=2025")
    header, *rows = read_csv(response)
    assert len(header) == 17 and all(len(r) == 17 for r in rows)
    assert response.content.decode("utf-8-sig").splitlines()[1].count(";") == 16
    assert rows[0][7:9] == ["01:30", "1,50"]
    assert rows[0][15:] == ["15,00", "22,50"]


@pytest.mark.parametrize(
    ("query", "dates"),
    [
        ("status=pending&year=2025", ["2025-03-21"]),  # entry 4
        ("year=all&status=all", ["2024-12-31", "2025-01-10", "2025-03-05", "2025-03-20", "2025-03-21",
                                 "2025-05-01", "2025-07-14"]),
        ("from=2025-03-01&to=2025-03-31&status=counted", ["2025-03-05", "2025-03-20", "2025-03-21"]),
        ("year=all&member={bob}", ["2024-12-31", "2025-01-10", "2025-03-05"]),
        ("year=2025&project={fete}", ["2025-01-10", "2025-03-20"]),
        ("year=all&status=all&category={events}", ["2024-12-31", "2025-03-05", "2025-03-21"]),
    ],
)  # fmt: skip
async def test_export_filters(app: Any, instance: Instance, seed: Seed, query: str, dates: list[str]) -> None:
    query = query.format(bob=seed.bob.id, fete=seed.fete.id, events=seed.categories["events"].id)
    async with await as_user(app, instance, seed.alice) as client:
        _header, *rows = read_csv(await client.get(f"{EXPORT}.csv?{query}"))
    assert [r[5] for r in rows] == dates


async def test_xlsx_export_parses_back(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice) as client:
        response = await client.get(f"{EXPORT}.xlsx?year=2025")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "Name" and len(rows) == 5
    assert rows[1][0] == "Bob Durand"
    assert rows[1][5] == dt.datetime(2025, 1, 10)
    assert rows[1][7] == "01:30"
    assert rows[1][8] == 1.5
    assert rows[1][16] == 22.5
    assert rows[4][0] == "Zoé Anonyme" and rows[4][16] == 9.31


async def test_ods_export_parses_back(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice) as client:
        response = await client.get(f"{EXPORT}.ods?year=2025")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oasis.opendocument.spreadsheet"
    # The mimetype comes first, uncompressed, so that tools recognise the file by its first bytes.
    assert response.content[30:38] == b"mimetype"
    assert response.content[38:84] == b"application/vnd.oasis.opendocument.spreadsheet"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.infolist()[0].compress_type == zipfile.ZIP_STORED
    assert archive.testzip() is None
    assert "META-INF/manifest.xml" in archive.namelist()
    root = ElementTree.fromstring(archive.read("content.xml"))
    rows = root.findall(".//table:table-row", ODS_NS)
    assert len(rows) == 5
    first = rows[1].findall("table:table-cell", ODS_NS)
    value = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
    assert first[0].findtext("text:p", namespaces=ODS_NS) == "Bob Durand"
    assert first[5].get(f"{value}date-value") == "2025-01-10"
    assert (first[8].get(f"{value}value-type"), first[8].get(f"{value}value")) == ("float", "1.50")
    assert first[16].get(f"{value}value") == "22.50"


async def test_volunteers_export_their_own_entries(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.bob) as client:
        _header, *rows = read_csv(await client.get("/me/entries/export.csv?year=all"))
        assert [(r[0], r[5]) for r in rows] == [
            ("Bob Durand", "2024-12-31"),
            ("Bob Durand", "2025-01-10"),
            ("Bob Durand", "2025-03-05"),
        ]
        assert (await client.get("/me/entries/export.ods?year=2025")).status_code == 200
        assert (await client.get("/me/entries/export.xlsx")).status_code == 200
    async with await as_user(app, instance, seed.carol) as client:
        _header, *rows = read_csv(await client.get("/me/entries/export.csv?year=2025"))
        # Every status of her own: entry 3 (approved) and entry 4 (pending).
        assert [(r[5], r[9]) for r in rows] == [("2025-03-20", "Approved"), ("2025-03-21", "Pending")]


async def test_export_refusals(app: Any, instance: Instance, seed: Seed) -> None:
    async with make_client(app) as visitor:
        assert (await visitor.get(f"{EXPORT}.csv")).status_code == 303
        assert (await visitor.get("/me/entries/export.csv")).status_code == 303
    for user in (seed.dave, seed.erin, seed.bob):
        async with await as_user(app, instance, user) as client:
            assert (await client.get(f"{EXPORT}.csv")).status_code == 403
            assert (await client.get(f"{EXPORT}.ods")).status_code == 403
            assert (await client.get("/associations/jardins/exports")).status_code == 403
    async with await as_user(app, instance, seed.alice) as client:
        assert (await client.get(f"{EXPORT}.pdf")).status_code == 404
        assert (await client.get(f"{EXPORT}.csv?status=lost")).status_code == 400
        assert (await client.get(f"{EXPORT}.csv?member=abc")).status_code == 400
        form = await client.get("/associations/jardins/exports")
        assert form.status_code == 200 and "Bob Durand" in form.text and "Fête de quartier" in form.text


async def test_text_that_looks_like_a_formula_is_neutralised(app: Any, instance: Instance, seed: Seed) -> None:
    async with instance.sessions() as db:
        await db.execute(
            insert(TimeEntry).values(
                association_id=seed.association.id,
                user_id=seed.bob.id,
                category_id=seed.categories["other"].id,
                start_date=dt.date(2025, 6, 1),
                duration_minutes=10,
                title='=HYPERLINK("http://x.example","clic")',
                status=EntryStatus.APPROVED,
            )
        )
        await db.commit()
    async with await as_user(app, instance, seed.alice) as client:
        _header, *rows = read_csv(await client.get(f"{EXPORT}.csv?from=2025-06-01&to=2025-06-01"))
    assert rows[0][3] == '\'=HYPERLINK("http://x.example","clic")'


async def test_a_large_export_streams_in_chunks(app: Any, instance: Instance, seed: Seed) -> None:
    count = 20_000
    base = dt.date(2023, 1, 1)
    values = [
        {
            "association_id": seed.association.id,
            "user_id": seed.bob.id if i % 2 else seed.carol.id,
            "category_id": seed.categories["events"].id,
            "level_id": seed.animateur.id if i % 3 == 0 else None,
            "start_date": base + dt.timedelta(days=i % 365),
            "duration_minutes": 30 + i % 90,
            "distance_km": Decimal("1.5"),
            "title": f"Permanence {i}",
            "status": EntryStatus.APPROVED,
        }
        for i in range(count)
    ]
    async with instance.sessions() as db:
        await db.execute(insert(TimeEntry), values)
        await db.commit()
    async with await as_user(app, instance, seed.alice) as client:
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    for fmt in ("csv", "ods"):
        start, chunks = await asgi_get(app, f"{EXPORT}.{fmt}", "year=2023", cookie)
        assert start["status"] == 200
        assert b"content-length" not in dict(start["headers"])  # streamed, not built whole
        assert len(chunks) >= count // 2000  # one body message per batch of rows, at least
        body = b"".join(chunks)
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=","))
            assert len(rows) == count + 1
            assert rows[1][5] == "2023-01-01" and rows[-1][5] == "2023-12-31"
        else:
            content = zipfile.ZipFile(io.BytesIO(body)).read("content.xml")
            assert content.count(b"<table:table-row>") == count + 1


async def asgi_get(app: Any, path: str, query: str, cookie: str) -> tuple[dict[str, Any], list[bytes]]:
    """Call the app as a server would and keep each body message apart (httpx joins them)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"a.test"), (b"cookie", cookie.encode()), (b"accept-language", b"en")],
        "client": ("127.0.0.1", 50000),
        "server": ("a.test", 443),
        "state": {},
    }
    messages: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    chunks = [m["body"] for m in messages[1:] if m["type"] == "http.response.body" and m.get("body")]
    return start, chunks
