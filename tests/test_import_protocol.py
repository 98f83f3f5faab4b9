"""The move protocol against a stand-in Bénévalibre 2.x origin served on loopback by a real server.

Before importing, the origin is asked whether the move is open; after the import commits, it gets the token
and the new address as JSON. When it cannot be reached then, the import stands and the worker confirms later.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from instance.models import Association, AssociationMove, MoveState, utcnow
from instance.runtime import Instance
from instance.services.benevalibre_import import confirm_move, import_export
from instance.services.benevalibre_parse import parse_export
from instance.services.move_protocol import MAX_ATTEMPTS, OriginClient, OriginError, new_client, retry_delay
from instance.settings import Settings
from instance.worker import Worker
from tests.associations_support import person
from tests.test_import_support import (
    StandInOrigin,
    export_for,
    origin,
    preview_then_import,
    row_counts,
    upload,
    vector,
)

__all__ = ["origin"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"dev_mode": True}


async def the_move(instance: Instance) -> AssociationMove:
    async with instance.sessions() as db:
        move: AssociationMove | None = await db.scalar(select(AssociationMove))
    assert move is not None
    return move


async def make_due(instance: Instance) -> None:
    """Time passes: the next attempt is due now."""
    async with instance.sessions() as db:
        await db.execute(update(AssociationMove).values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))
        await db.commit()


async def test_the_origin_is_asked_then_told_with_json(
    app: Starlette, instance: Instance, origin: StandInOrigin
) -> None:
    admin = await person(app, "root", admin=True)
    data = vector()
    token = data["metadata"]["token"]
    assert (await preview_then_import(admin, export_for(origin, data))).status_code == 303
    methods = [method for method, _type, _body in origin.requests]
    assert methods == ["GET", "GET", "POST"]  # asked at the preview and at the import, then told
    _method, content_type, body = origin.requests[-1]
    assert content_type == "application/json"
    assert json.loads(body) == {"token": token, "url": "https://a.test/associations/les-jardins-de-la-clouere"}
    move = await the_move(instance)
    assert (move.state, move.attempts, move.last_error) == (MoveState.CONFIRMED, 1, "")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("done", "The origin instance says this move is already done"),
        ("unknown", "The origin instance does not know this move or refused its token (HTTP 404)"),
        ("down", "The origin instance could not be asked whether this move is still open"),
        ("error", "The origin instance gave an unexpected answer (HTTP 500)"),
    ],
)
async def test_a_move_the_origin_does_not_hold_open_is_refused(
    app: Starlette, instance: Instance, origin: StandInOrigin, setup: str, message: str
) -> None:
    admin = await person(app, "root", admin=True)
    data = vector()
    content = export_for(origin, data, open_move=setup != "unknown")
    if setup == "done":
        origin.moves[data["metadata"]["token"]]["is_done"] = True
    elif setup == "down":
        origin.stop()
    elif setup == "error":
        origin.refuse_with = 500
    before = await row_counts(instance)
    response = await upload(admin, content)
    assert response.status_code == 400
    assert message in response.text
    assert await row_counts(instance) == before


async def import_with_service(instance: Instance, origin: StandInOrigin) -> AssociationMove:
    """Import the shared file as the command line does, the origin being asked first; commit; no confirmation."""
    export = parse_export(export_for(origin))
    async with instance.sessions() as db, new_client() as http:
        result = await import_export(
            db, instance, export, owner=None, importer=None, origin=OriginClient(http, instance.settings)
        )
        await db.commit()
        return result.move


async def confirm_now(instance: Instance, move: AssociationMove) -> AssociationMove:
    async with instance.sessions() as db, new_client() as http:
        row = await db.get(AssociationMove, move.id)
        assert row is not None
        await confirm_move(db, OriginClient(http, instance.settings), row, instance.settings.base_url)
    return await the_move(instance)


async def test_when_the_origin_is_down_at_confirmation_the_worker_confirms_later(
    app: Starlette, instance: Instance, origin: StandInOrigin, worker: Worker
) -> None:
    move = await import_with_service(instance, origin)
    origin.stop()  # the origin goes off the network right after the import committed
    move = await confirm_now(instance, move)
    assert (move.state, move.attempts) == (MoveState.PENDING, 1)
    assert "ConnectError" in move.last_error
    assert move.next_attempt_at > utcnow() + dt.timedelta(seconds=50)  # retried in about a minute
    assert await instance_has_the_association(instance)  # the import stands

    admin = await person(app, "root", admin=True)
    page = await admin.get(f"/moves/{move.id}")
    assert "waiting; retried automatically" in page.text
    assert "ConnectError" in page.text

    await worker.run_until_idle()
    assert (await the_move(instance)).attempts == 1  # not due yet: nothing is tried
    origin.start()
    await make_due(instance)
    await worker.run_until_idle()
    move = await the_move(instance)
    assert (move.state, move.attempts, move.last_error) == (MoveState.CONFIRMED, 2, "")
    token = vector()["metadata"]["token"]
    assert origin.moves[token] == {"is_done": True, "url": "https://a.test/associations/les-jardins-de-la-clouere"}
    page = await admin.get("/moves")
    assert "confirmed" in page.text


async def test_a_refused_confirmation_is_not_retried(
    app: Starlette, instance: Instance, origin: StandInOrigin, worker: Worker
) -> None:
    move = await import_with_service(instance, origin)
    origin.refuse_with = 400
    move = await confirm_now(instance, move)
    assert move.state == MoveState.FAILED
    assert "HTTP 400" in move.last_error
    await make_due(instance)
    await worker.run_until_idle()
    assert (await the_move(instance)).attempts == 1


async def test_an_origin_that_keeps_failing_is_given_up_after_the_last_attempt(
    app: Starlette, instance: Instance, origin: StandInOrigin, worker: Worker
) -> None:
    move = await import_with_service(instance, origin)
    origin.refuse_with = 503
    move = await confirm_now(instance, move)
    assert move.state == MoveState.PENDING
    for _attempt in range(MAX_ATTEMPTS - 1):
        await make_due(instance)
        await worker.run_once()
    move = await the_move(instance)
    assert (move.state, move.attempts) == (MoveState.FAILED, MAX_ATTEMPTS)
    assert retry_delay(1) == dt.timedelta(minutes=1)
    assert retry_delay(3) == dt.timedelta(minutes=4)
    assert retry_delay(40) == dt.timedelta(hours=6)


async def test_private_addresses_are_refused_outside_development_mode(settings: Settings) -> None:
    production = Settings(**{**settings.__dict__, "dev_mode": False})
    async with httpx.AsyncClient() as http:
        client = OriginClient(http, production)
        with pytest.raises(OriginError, match="not https"):
            await client.check_target("http://127.0.0.1:9/api/v1/associations/1/migrate")
        with pytest.raises(OriginError, match="not a public address"):
            await client.check_target("https://127.0.0.1:9/api/v1/associations/1/migrate")
        with pytest.raises(OriginError, match="not a public address"):
            await client.check_target("https://[::1]/api/v1/associations/1/migrate")

        async def public(host: str, port: int) -> list[str]:
            return ["203.0.114.7", "10.0.0.8"]  # one private address is enough to refuse

        with pytest.raises(OriginError, match="not a public address"):
            await OriginClient(http, production, public).check_target("https://bnv.example/x")


async def instance_has_the_association(instance: Instance) -> bool:
    async with instance.sessions() as db:
        return await db.scalar(select(Association.id)) is not None
