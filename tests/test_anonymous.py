"""Anonymous entry links: managers create and disable them; people without an account log time through them."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import AnonymousLink
from instance.runtime import Instance
from instance.services.entries import today
from tests.conftest import make_client
from tests.test_entries_support import association, category_ids, entries_of, entry_form, join, person, post


async def make_link(client: httpx.AsyncClient, name: str = "Marché", expires: str = "") -> str:
    response = await post(client, "/associations/restos/anonymous-links", {"name": name, "expires_on": expires})
    assert response.status_code == 303
    page = await client.get("/associations/restos/anonymous-links")
    match = re.search(r'value="https://a\.test(/a/[^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def test_someone_without_an_account_logs_time_through_a_link(
    client: httpx.AsyncClient, app: Starlette, instance: Instance
) -> None:
    owner = await person(instance, "owner", client)
    restos = await association(instance, owner)
    category = (await category_ids(instance, restos))[0]
    path = await make_link(client)

    async with make_client(app) as visitor:
        visitor.headers["Accept-Language"] = "en"
        page = await visitor.get(path)
        assert page.status_code == 200 and "Your name" in page.text
        # The name is required, and what was typed is kept
        response = await post(visitor, path, entry_form(category, title="Stand"))
        assert response.status_code == 400 and 'id="e-participant_name"' in response.text
        assert 'value="Stand"' in response.text
        response = await post(visitor, path, {"participant_name": "Jeanne", **entry_form(category, title="Stand")})
        assert response.status_code == 303
        assert "Thank you" in (await visitor.get(path)).text

    [entry] = await entries_of(instance, restos)
    async with instance.sessions() as db:
        link = await db.scalar(select(AnonymousLink))
        assert link is not None and link.last_used_at is not None
    assert (entry.user_id, entry.participant_name, entry.anonymous_link_id) == (None, "Jeanne", link.id)
    assert entry.status == "pending"  # the association moderates
    queue = await client.get("/associations/restos/moderation")
    assert "Jeanne" in queue.text and "anonymous link" in queue.text


async def test_disabled_and_expired_links_answer_410(
    client: httpx.AsyncClient, app: Starlette, instance: Instance
) -> None:
    owner = await person(instance, "owner", client)
    restos = await association(instance, owner)
    category = (await category_ids(instance, restos))[0]
    path = await make_link(client, "Soirée", today().isoformat())

    # A past expiry date is refused at creation
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    response = await post(client, "/associations/restos/anonymous-links", {"name": "Vieux", "expires_on": yesterday})
    assert response.status_code == 400 and 'id="e-expires_on"' in response.text

    async with make_client(app) as visitor:
        assert (await visitor.get(path)).status_code == 200  # valid through its last day
        async with instance.sessions() as db:
            link = await db.scalar(select(AnonymousLink))
            assert link is not None
            link.expires_on = today() - dt.timedelta(days=1)
            await db.commit()
        assert (await visitor.get(path)).status_code == 410
        form = {"participant_name": "Jeanne", **entry_form(category)}
        assert (await post(visitor, path, form)).status_code == 410

        async with instance.sessions() as db:
            link = await db.scalar(select(AnonymousLink))
            assert link is not None
            link.expires_on = None
            await db.commit()
        assert (await visitor.get(path)).status_code == 200
        response = await post(client, f"/associations/restos/anonymous-links/{link.id}/disable", {})
        assert response.status_code == 303
        assert (await visitor.get(path)).status_code == 410
        assert (await post(visitor, path, form)).status_code == 410
        assert (await visitor.get("/a/no-such-token")).status_code == 404
    assert await entries_of(instance, restos) == []


async def test_only_entry_managers_handle_links(client: httpx.AsyncClient, instance: Instance) -> None:
    owner = await person(instance, "owner")
    restos = await association(instance, owner)
    alice = await person(instance, "alice", client)
    await join(instance, restos, alice)
    assert (await client.get("/associations/restos/anonymous-links")).status_code == 403
    response = await post(client, "/associations/restos/anonymous-links", {"name": "Pirate"})
    assert response.status_code == 403
    async with instance.sessions() as db:
        assert await db.scalar(select(AnonymousLink)) is None


async def test_open_association_approves_anonymous_time_at_once(
    client: httpx.AsyncClient, app: Starlette, instance: Instance
) -> None:
    owner = await person(instance, "owner", client)
    restos = await association(instance, owner, moderate_entries=False)
    category = (await category_ids(instance, restos))[0]
    path = await make_link(client)
    async with make_client(app) as visitor:
        await post(visitor, path, {"participant_name": "Jeanne", **entry_form(category)})
    [entry] = await entries_of(instance, restos)
    assert entry.status == "approved"
