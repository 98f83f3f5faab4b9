"""What the move tests share (this module holds no tests): a stand-in Bénévalibre 2.x origin served on
loopback by a real uvicorn server, the shared export file (pointed at that origin), figures computed from the
file itself, and a count of every table's rows.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from instance.models import Base
from instance.runtime import Instance
from tests.conftest import Mailbox, post_form

VECTOR = Path(__file__).parent / "data" / "benevalibre-2.0.1-association-export.json"
ORIGIN_PATH = "/api/v1/associations/51/migrate"


class StandInOrigin:
    """A Bénévalibre 2.x instance's move endpoint, as the target sees it: GET says whether a move is done,
    POST (JSON only, like 2.0.1) marks it done with the new address. ``stop``/``start`` take it off the
    network and back, on the same port."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.moves: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, content type, body)
        self.refuse_with: int | None = None
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}{ORIGIN_PATH}"

    def open_move(self, token: str) -> None:
        self.moves[token] = {"is_done": False, "url": None}

    async def migrate(self, request: Request) -> JSONResponse:
        body = (await request.body()).decode()
        self.requests.append((request.method, request.headers.get("content-type", ""), body))
        if self.refuse_with:
            return JSONResponse({"detail": "refused"}, status_code=self.refuse_with)
        if request.method == "GET":
            move = self.moves.get(request.query_params.get("token", ""))
            if move is None:
                return JSONResponse({"detail": "Not found."}, status_code=404)
            return JSONResponse({"is_done": move["is_done"]})
        if not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"detail": "Unsupported media type."}, status_code=415)
        data = json.loads(body)
        move = self.moves.get(data.get("token", ""))
        if move is None:
            return JSONResponse({"detail": "Not found."}, status_code=404)
        if move["is_done"] and move["url"] != data.get("url"):
            return JSONResponse({"detail": "This move is already done."}, status_code=400)
        move.update(is_done=True, url=data.get("url"))
        return JSONResponse({"is_done": True})

    def app(self) -> Starlette:
        return Starlette(routes=[Route(ORIGIN_PATH, self.migrate, methods=["GET", "POST"])])

    def start(self) -> None:
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", ws="none"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the stand-in origin did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        assert self.server is not None and self.thread is not None
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def origin() -> Iterator[StandInOrigin]:
    stand_in = StandInOrigin()
    stand_in.start()
    try:
        yield stand_in
    finally:
        if stand_in.thread is not None and stand_in.thread.is_alive():
            stand_in.stop()


def vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTOR.read_text(encoding="utf-8"))
    return data


def export_for(origin: StandInOrigin, data: dict[str, Any] | None = None, *, open_move: bool = True) -> bytes:
    """The shared export (or ``data``), pointed at the stand-in origin, whose move is open unless told."""
    document = copy.deepcopy(data if data is not None else vector())
    document["metadata"]["endpoint"] = origin.endpoint
    if open_move:
        origin.open_move(document["metadata"]["token"])
    return json.dumps(document, ensure_ascii=False).encode()


async def row_counts(instance: Instance) -> dict[str, int]:
    """The number of rows of every table: a refused import must leave each one as it was."""
    counts = {}
    async with instance.sessions() as db:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int(await db.scalar(select(func.count()).select_from(table)) or 0)
    return counts


async def upload(browser: httpx.AsyncClient, content: bytes, **fields: str) -> httpx.Response:
    """Send an export file with the upload form."""
    page = await browser.get("/moves/import")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    files = {"file": ("export.json", content, "application/json")}
    return await browser.post("/moves/import", data={"csrf_token": token, **fields}, files=files)


async def preview_then_import(browser: httpx.AsyncClient, content: bytes, **fields: str) -> httpx.Response:
    """Upload, read the preview's hidden fields, press "Import"; the response is the redirect to the move."""
    preview = await upload(browser, content, **fields)
    assert preview.status_code == 200, preview.text
    key = preview.text.split('name="key" value="', 1)[1].split('"', 1)[0]
    return await post_form(browser, "/moves/import/confirm", {"key": key, **fields}, page="/moves/import")


# -- figures computed from the file itself, independently of the import code -----------------------------------


def minutes_of(duration: str) -> int:
    days, _, clock = duration.rpartition(" ")
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return (int(days or 0) * 24 + hours) * 60 + minutes + round(seconds / 60)


def expected_totals(data: dict[str, Any]) -> dict[str, dict[str, tuple[int, Decimal]]]:
    """Time (minutes) and distance per category, project and member, summed from the file's actions."""
    totals: dict[str, dict[str, tuple[int, Decimal]]] = {"category": {}, "project": {}, "member": {}}
    names = {
        o["fields"]["uuid"]: o["fields"]["name"]
        for o in data["objects"]
        if o["model"] == "associations.associationanonymousmember"
    }
    for item in data["objects"]:
        if item["model"] != "benevalibre.benevalo":
            continue
        fields = item["fields"]
        minutes = minutes_of(fields["duration"])
        distance = Decimal(fields["distance"] or "0")
        if fields["user"]:
            member = fields["user"][0]
        elif fields["anonymous_member"]:
            member = "anonymous:" + names[fields["anonymous_member"][0]]
        else:
            member = "nobody"
        keys = {
            "category": fields["category"][0],
            "project": fields["project"][0] if fields["project"] else "",
            "member": member,
        }
        for dimension, key in keys.items():
            before = totals[dimension].get(key, (0, Decimal("0")))
            totals[dimension][key] = (before[0] + minutes, before[1] + distance)
    return totals


def expected_counts(data: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in data["objects"]:
        counts[item["model"]] = counts.get(item["model"], 0) + 1
    return counts


def mail_settings(smtp: tuple[Mailbox, int]) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_security": "none", "dev_mode": True}


def today_plus(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()
