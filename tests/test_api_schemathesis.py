"""schemathesis, run in-process against the served OpenAPI document: for every operation, a bounded number of
generated requests (deterministic), with a manager's token; no answer may be a server error, use an
undocumented status or content type, or break its documented schema.

schemathesis and hypothesis are synchronous: the app, its database connections and an httpx client run in
the event loop of an anyio blocking portal (a thread), and each generated request is sent through it.
"""

from __future__ import annotations

from typing import Any

import anyio.from_thread
import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from instance.models import Base
from instance.runtime import Instance
from instance.settings import Settings
from tests.api_support import add_entries, world
from tests.conftest import BASE_URL, make_client
from web.app import create_app

MAX_EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"api_rate_limit": 1_000_000}


async def empty_tables(instance: Instance) -> None:
    async with instance.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(table.name for table in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(table.delete())


def request_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    """schemathesis's requests-style arguments as httpx ones."""
    found = {key: kwargs[key] for key in ("method", "url", "headers", "params") if kwargs.get(key) is not None}
    if "json" in kwargs:
        found["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        found["content"] = data if isinstance(data, bytes) else str(data).encode()
    return found


def test_schemathesis_finds_no_server_error_nor_schema_violation(settings: Settings) -> None:
    app = create_app(settings)
    instance: Instance = app.state.instance
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        client = portal.call(make_client, app)

        def send(**kwargs: Any) -> httpx.Response:
            async def go() -> httpx.Response:
                return await client.request(**kwargs)

            return portal.call(go)

        try:
            portal.call(empty_tables, instance)
            w = portal.call(world, app)
            (entry_id,) = portal.call(add_entries, instance, w, w.alice, 1)
            portal.call(add_entries, instance, w, w.bob, 3)
            raw = send(method="GET", url="/api/openapi.json").json()
            checked = fuzz(raw, send, {"Authorization": f"Bearer {w.tokens['alice']}"}, entry_id)
        finally:
            portal.call(client.aclose)
    assert checked == sum(len(item) for item in raw["paths"].values())


def fuzz(raw: dict[str, Any], send: Any, headers: dict[str, str], entry_id: int) -> int:
    """Run the checks on MAX_EXAMPLES generated requests per operation; the number of operations checked."""
    schema = schemathesis.openapi.from_dict(raw)
    fixed = {"handle": "restos", "entry_id": entry_id}
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid document fails right here
        parameters = {name: value for name, value in fixed.items() if f"{{{name}}}" in operation.path}
        strategy = operation.as_strategy(headers=headers, path_parameters=parameters)

        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=strategy)
        def run(case: Any) -> None:
            kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
            response = send(**request_of(kwargs))
            case.validate_response(response, checks=CHECKS)

        run()
        checked += 1
    return checked
