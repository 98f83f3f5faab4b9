"""News notes: bob publishes one for restos (b.test); alice, a member from a.test, sees it there."""

from __future__ import annotations

import json

from instance.models import Delivery, News, Notification
from tests.conftest import post_form
from tests.federation_entries_support import members
from tests.federation_support import Pair

pytest_plugins = ["tests.federation_fixtures"]

TEXT = "Collecte samedi au marché.\n\nVenez nombreux <script>alert(1)</script>"


async def test_a_note_reaches_the_members_on_the_other_instance(pair: Pair) -> None:
    team = await members(pair)

    response = await post_form(team.bob, "/associations/restos/news", {"text": TEXT}, page="/associations/restos")

    assert response.status_code == 303
    [sent] = await pair.b.rows(Delivery, Delivery.body.contains('"Note"'))
    activity = json.loads(sent.body)
    assert activity["type"] == "Create" and activity["actor"] == "https://b.test/associations/restos"
    note = activity["object"]
    assert note["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert "&lt;script&gt;" in note["content"] and "<script>" not in note["content"]
    await pair.settle()
    [kept] = await pair.a.rows(News)
    assert kept.text.startswith("Collecte samedi") and kept.ap_id == note["id"]
    page = await team.alice.get("/associations/restos@b.test")
    assert "Collecte samedi au marché." in page.text and "&lt;script&gt;" in page.text
    [notice] = await pair.a.rows(Notification, Notification.kind == "news")
    assert "Collecte samedi" in notice.data["text"]

    served = await team.alice.get(
        note["id"].removeprefix("https://b.test"), headers={"Accept": "application/activity+json"}
    )
    assert served.status_code == 404  # asked on a.test: the note lives on b.test
    visitor = pair.b.browser()
    served = await visitor.get(
        note["id"].removeprefix("https://b.test"), headers={"Accept": "application/activity+json"}
    )
    assert served.status_code == 200 and served.json()["content"] == note["content"]
    browsed = await visitor.get(note["id"].removeprefix("https://b.test"))
    assert browsed.status_code == 303 and browsed.headers["location"] == "/associations/restos"


async def test_only_managers_publish_and_empty_notes_are_refused(pair: Pair) -> None:
    team = await members(pair)
    carol = await pair.b.person("carol")
    await post_form(carol, "/associations/restos/join", {}, page="/associations/restos")

    refused = await post_form(carol, "/associations/restos/news", {"text": "Hello"}, page="/associations/restos")
    empty = await post_form(team.bob, "/associations/restos/news", {"text": "  "}, page="/associations/restos")

    assert refused.status_code == 403
    assert empty.status_code == 303 and "Please write the news" in (await team.bob.get("/associations/restos")).text
    assert await pair.b.count(News) == 0
