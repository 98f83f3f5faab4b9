"""Operations over HTTP: /healthz, /metrics, request ids and JSON log lines."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from instance import logs
from instance.models import Base, OutgoingMail, WorkerHeartbeat, utcnow
from instance.runtime import Instance
from instance.services.health import heartbeat_writer
from instance.settings import Settings
from instance.worker import Worker
from tests.associations_support import person
from tests.conftest import make_client, make_settings
from web.app import create_app

TOKEN = "a-long-metrics-token-for-the-tests"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"metrics_token": TOKEN}


async def run_worker_once_round(instance: Instance) -> None:
    """Run a real worker loop until it has written its heartbeat, then stop it."""
    worker = Worker(instance.tasks, 0.01, heartbeat=heartbeat_writer(instance.sessions))
    task = asyncio.create_task(worker.run_forever())
    try:
        for _attempt in range(500):
            async with instance.sessions() as db:
                if await db.scalar(select(WorkerHeartbeat.worker)) is not None:
                    break
            await asyncio.sleep(0.01)
    finally:
        worker.stop()
        await task


# -- /healthz ---------------------------------------------------------------------------------------------------


async def test_healthz_is_ok_once_a_worker_has_reported(client: httpx.AsyncClient, instance: Instance) -> None:
    await run_worker_once_round(instance)

    response = await client.get("/healthz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "migrations": True,
        "worker": True,
    }


async def test_healthz_fails_without_a_worker_or_with_a_stale_one(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    silent = await client.get("/healthz")
    assert silent.status_code == 503
    assert silent.json()["checks"]["worker"] == {"ok": False, "detail": "no worker has reported yet"}

    await run_worker_once_round(instance)
    async with instance.sessions() as db:
        await db.execute(update(WorkerHeartbeat).values(last_round_at=utcnow() - dt.timedelta(minutes=10)))
        await db.commit()

    stale = await client.get("/healthz")
    assert stale.status_code == 503 and "stale" in stale.json()["checks"]["worker"]["detail"]


@pytest.fixture
async def unmigrated_app(tmp_path: Path) -> AsyncIterator[Starlette]:
    """An app on a database whose tables exist but that no migration stamped."""
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path)
    application = create_app(settings, check_database=False)
    async with application.state.instance.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with application.router.lifespan_context(application):
        yield application


async def test_healthz_names_a_database_that_is_not_migrated(unmigrated_app: Starlette) -> None:
    response = await make_client(unmigrated_app).get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["migrations"]["ok"] is False and "not migrated: at (none), needs" in checks["migrations"]["detail"]


async def test_healthz_says_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/nothing", tmp_path)
    application = create_app(settings, check_database=False)
    async with application.router.lifespan_context(application):
        response = await make_client(application).get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"]["detail"].startswith("unreachable")


# -- /metrics ---------------------------------------------------------------------------------------------------


def metric(text: str, line_start: str) -> float:
    match = re.search(rf"^{re.escape(line_start)} (\S+)$", text, re.MULTILINE)
    assert match, f"no {line_start} in\n{text}"
    return float(match.group(1))


async def test_metrics_need_the_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")


async def test_metrics_count_requests_and_rows(app: Starlette, instance: Instance, client: httpx.AsyncClient) -> None:
    await person(app, "alice")
    await client.get("/")
    await client.get("/no-such-page")
    async with instance.sessions() as db:
        db.add(OutgoingMail(recipient="x@example.org", subject="s", body="b"))
        await db.commit()

    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert metric(text, 'benevalibre_http_requests_total{status="2xx"}') >= 1
    assert metric(text, 'benevalibre_http_requests_total{status="4xx"}') >= 1
    assert metric(text, 'benevalibre_mail{state="queued"}') == 1
    assert metric(text, "benevalibre_users") == 1
    assert metric(text, "benevalibre_entries") == 0
    assert metric(text, "benevalibre_worker_heartbeat_age_seconds") == -1
    assert metric(text, 'benevalibre_queue_lag_seconds{queue="mail"}') >= 0
    assert "# TYPE benevalibre_http_requests_total counter" in text


async def test_metrics_are_off_without_a_token(database_url: str, tmp_path: Path) -> None:
    application = create_app(make_settings(database_url, tmp_path))
    async with application.router.lifespan_context(application):
        response = await make_client(application).get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 404


# -- request ids and log lines ----------------------------------------------------------------------------------


async def test_every_answer_carries_a_request_id(client: httpx.AsyncClient) -> None:
    fresh = await client.get("/")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    assert (await client.get("/", headers={"X-Request-Id": "proxy-42.abc"})).headers["x-request-id"] == "proxy-42.abc"
    for insane in ("has space", "x" * 300, "<script>"):
        answer = await client.get("/", headers={"X-Request-Id": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]), insane
    assert "x-request-id" in (await client.get("/no-such-page")).headers


async def test_access_lines_in_json_carry_the_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="benevalibre.access")

    response = await client.get("/associations", headers={"X-Request-Id": "req-123"})

    records = [
        r for r in caplog.records if r.name == "benevalibre.access" and getattr(r, "path", "") == "/associations"
    ]
    assert len(records) == 1
    line = json.loads(logs.JsonFormatter().format(records[0]))
    assert response.headers["x-request-id"] == "req-123"
    assert line["request_id"] == "req-123" and line["level"] == "info" and line["logger"] == "benevalibre.access"
    assert line["method"] == "GET" and line["status"] == 200 and line["message"].startswith("GET /associations 200")
    assert dt.datetime.fromisoformat(line["time"]).tzinfo is not None


def test_configured_json_logging_writes_one_object_a_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.configure_logging(Settings(data_dir=str(tmp_path), log_format="json", log_level="info"))
        token = logs.request_id.set("abc-1")
        try:
            logging.getLogger("benevalibre.test").warning("disk %s full", "/data")
        finally:
            logs.request_id.reset(token)
        logging.getLogger("benevalibre.test").info("outside")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert lines[0]["message"] == "disk /data full" and lines[0]["request_id"] == "abc-1"
    assert lines[0]["level"] == "warning"
    assert lines[1]["message"] == "outside" and "request_id" not in lines[1]
