"""Inbox fuzzing: generated malformed, truncated, deeply nested, huge, wrongly typed and semantically wrong
activities POSTed to the inboxes of a real instance (b.test), unsigned and signed by a real actor of a.test.

Whatever arrives: never a 5xx, each answer within a bounded time and memory, and a refused request changes no
table. A validly signed activity that means nothing here is stored (202), then handled as ``ignored`` by the
worker, and nothing else changes. Runs are derandomized (the same cases every run); about 10,000 cases in all.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from federation.local_keys import SigningKeys
from instance.models import InboxItem
from tests.federation_support import Pair
from tests.security_support import as_json, contents, post_body, table_counts

ALICE = "https://a.test/users/alice"
RESTOS = "https://b.test/associations/restos"
CAROL = "https://b.test/users/carol"
INBOXES = (
    "/inbox",
    "/actor/inbox",
    "/users/carol/inbox",
    "/associations/restos/inbox",
    "/users/nobody/inbox",
    "/associations/nothing/inbox",
)
MAX_SECONDS = 10.0  # a hang, not a speed: the machine may be shared
MAX_PEAK = 24 * 1024 * 1024  # the most memory allocated while answering one request (bodies are at most 1 MiB)

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)


@pytest.fixture
def federation_overrides() -> dict[str, dict[str, Any]]:
    return {"b.test": {"inbox_rate_limit": 10_000_000}}


# the tables checked after each request (every table is checked at the end of each test)
QUICK = ("inbox_items", "remote_actors", "memberships", "time_entries", "follows", "deliveries", "deleted_objects")


@dataclass
class Target:
    pair: Pair
    http: httpx.AsyncClient
    alice: SigningKeys
    counts: dict[str, int]  # every table's rows once ready, inbox items aside
    rows: dict[str, list[str]]  # the content of the tables that matter, once ready
    stored: int = 0  # the activities stored since

    async def post(self, path: str, body: bytes, keys: SigningKeys | None, content_type: str | None = None) -> Any:
        started = time.perf_counter()
        response = await post_body(self.http, path, body, keys, content_type or "application/activity+json")
        elapsed = time.perf_counter() - started
        assert response.status_code < 500, (response.status_code, response.text, body[:300])
        assert elapsed < MAX_SECONDS, (elapsed, body[:300])
        return response

    async def unchanged(self) -> None:
        """Only the inbox may have grown, by the activities stored (``stored``)."""
        now = await table_counts(self.pair.b.instance, QUICK)
        expected = {name: self.counts[name] for name in QUICK}
        assert now == {**expected, "inbox_items": self.counts["inbox_items"] + self.stored}


@pytest.fixture
async def target(pair: Pair) -> AsyncIterator[Target]:
    """b.test with carol and her open association restos; alice on a.test, whose key b.test already cached.
    At the end, every table holds what it held at the start, but for inbox items that all ended ``ignored``."""
    await pair.a.user("alice")
    await pair.b.user("carol")
    await pair.b.association("carol", "restos")
    alice = await pair.a.keys("alice")
    async with pair.b.browser() as http:
        warm = {"id": "https://a.test/warm", "type": "Like", "actor": ALICE, "object": RESTOS}
        found = Target(pair, http, alice, {}, {})
        assert (await found.post("/inbox", as_json(warm), alice)).status_code == 202
        await pair.b.worker.run_until_idle()
        found.counts = await table_counts(pair.b.instance)
        found.rows = await contents(pair.b.instance)
        yield found
    after = await table_counts(pair.b.instance)
    # the worker notes on its own, after a while, the domain of each actor it keeps (a.test): not the cases' doing
    untouched = {"inbox_items": 0, "federated_domains": 0}
    assert {**after, **untouched} == {**found.counts, **untouched}
    assert await contents(pair.b.instance) == found.rows
    states = await pair.b.count(InboxItem, InboxItem.state != "ignored")
    assert states == 0


# -- strategies ---------------------------------------------------------------------------------------------

IRIS = st.sampled_from(
    [
        RESTOS,
        CAROL,
        "https://b.test/associations/restos/outbox",
        "https://b.test/entries/1",
        "https://b.test/entries/99999999999999999999999",
        "https://b.test/entries/\u00b2",
        "https://b.test/entries/-1",
        "https://b.test/associations/nothing",
        "https://a.test/users/alice/entries/1",
        "https://a.test/follows/1",
        "https://evil.test/x",
        "http://b.test/associations/restos",
        "https://b.test@evil.test/associations/restos",
        "urn:uuid:0",
        "javascript:alert(1)",
        "",
        "/associations/restos",
        "https://B.TEST/associations/restos",
    ]
)
TYPES = st.sampled_from(
    [
        "Follow",
        "Accept",
        "Reject",
        "Undo",
        "Delete",
        "Update",
        "Create",
        "Announce",
        "Like",
        "Block",
        "Move",
        "Flag",
        "Add",
        "Remove",
        "Question",
        "TimeEntry",
        "Note",
        "Tombstone",
        "",
        "follow",
        "Create\u0000",
    ]
)
NASTY = st.sampled_from(
    ["", " ", "\u0000", "\ud7ff\uffff", "é" * 3, "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../" * 4, "1e999"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | NASTY
    | st.text(max_size=6)
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(NASTY | st.sampled_from(["id", "type"]), inner, max_size=3)
    ),
    max_leaves=5,
)
OBJECT_KINDS = st.sampled_from(["TimeEntry", "Note", "Follow", "Person", "Group", "Tombstone", "Object", 7, None])
FIELD = IRIS | JUNK
EMBEDDED_KEYS = ("id", "attributedTo", "actor", "object", "audience", "updated", "duration", "startTime", "name")
EMBEDDED = st.fixed_dictionaries({"type": OBJECT_KINDS}, optional=dict.fromkeys(EMBEDDED_KEYS, FIELD))


IDS = IRIS.map(lambda iri: iri + "#a") | JUNK
ACTORS = IRIS | JUNK | st.builds(lambda iri: {"id": iri}, IRIS)
OBJECTS = IRIS | JUNK | EMBEDDED | st.lists(IRIS, max_size=3)
EXTRA_KEYS = ("@context", "to", "published", "summary", "proof", "target")


def activities(actor: str | None = None, id_host: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Activity-shaped objects with fields missing, of the wrong type or pointing at the wrong things; with
    ``actor`` and ``id_host``, their actor and id are right (they pass the inbox's checks when signed)."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {"id": IDS, "type": TYPES | JUNK, "actor": ACTORS, "object": OBJECTS}
    optional.update(dict.fromkeys(EXTRA_KEYS, FIELD))
    if actor is not None:
        required["actor"] = st.just(actor)
        del optional["actor"]
    if id_host is not None:
        required["id"] = st.integers(0, 10**12).map(lambda n: f"https://{id_host}/fuzz/{n}")
        del optional["id"]
    return st.fixed_dictionaries(required, optional=optional)


def _deep(kind: str, depth: int) -> bytes:
    inner = "[" * depth + "]" * depth if kind == "list" else '{"object":' * depth + "1" + "}" * depth
    head = '{"id":"https://a.test/deep","type":"Create","actor":"' + ALICE + '","object":'
    return (head + inner + "}").encode()


def _truncated(case: tuple[dict[str, Any], float]) -> bytes:
    text = json.dumps(case[0])
    return text[: int(len(text) * case[1])].encode()


def _encoded(case: tuple[dict[str, Any], str]) -> bytes:
    return json.dumps(case[0], ensure_ascii=False).encode(case[1], "replace")


# bytes that are not a usable activity: garbage, truncated JSON, JSON of the wrong shape, other encodings
RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.tuples(activities(), st.floats(0, 0.999)).map(_truncated),
    JUNK.map(as_json),
    st.tuples(activities(), st.sampled_from(["utf-16", "utf-32", "latin-1"])).map(_encoded),
    activities().map(lambda activity: b"\xef\xbb\xbf" + as_json(activity)),
    activities().map(as_json),
)


# -- unsigned: every one refused, nothing stored ----------------------------------------------------------


@settings(FUZZ, max_examples=3500)
@given(
    body=RAW_BODIES,
    path=st.sampled_from(INBOXES),
    content_type=st.sampled_from(
        [
            "application/activity+json",
            'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
            "application/json",
            "text/html",
            "",
            "application/activity+json; charset=utf-16",
        ]
    ),
)
async def test_unsigned_garbage_is_refused_and_changes_nothing(
    target: Target, body: bytes, path: str, content_type: str
) -> None:
    response = await target.post(path, body, None, content_type)

    assert response.status_code in (400, 401, 403, 404, 413, 415)
    await target.unchanged()


@settings(FUZZ, max_examples=1500)
@given(
    activity=activities(actor=ALICE, id_host="a.test"),
    path=st.sampled_from(INBOXES[:4]),
    header=st.sampled_from(
        [
            'keyId="https://a.test/users/alice#main-key",headers="(request-target) host date",signature="AAAA"',
            'keyId="https://a.test/users/alice#main-key",algorithm="rsa-sha256",signature=""',
            'keyId="https://a.test/users/alice#main-key"',
            "keyId=,,,,",
            'keyId="https://a.test/users/alice#main-key",headers="",signature="' + "A" * 5000 + '"',
            'keyId="' + "x" * 3000 + '",signature="AAAA"',
            'signature="AAAA"',
        ]
    ),
)
async def test_forged_signature_headers_are_401(
    target: Target, activity: dict[str, Any], path: str, header: str
) -> None:
    body = as_json(activity)
    headers = {
        "Content-Type": "application/activity+json",
        "Signature": header,
        "Date": "Fri, 27 Nov 2026 08:00:00 GMT",
    }

    response = await target.http.post(path, content=body, headers=headers)

    assert response.status_code in (400, 401, 403), response.text
    await target.unchanged()


# -- signed by alice: refused, or stored then ignored -------------------------------------------------------


async def signed_case(target: Target, activity: dict[str, Any] | bytes, path: str) -> None:
    """POST ``activity`` signed by alice: a refusal changes nothing; a 202 is handled as ``ignored`` and only
    adds its inbox row."""
    b = target.pair.b
    body = activity if isinstance(activity, bytes) else as_json(activity)
    response = await target.post(path, body, target.alice)

    assert response.status_code in (202, 400, 401, 403, 404, 413), response.text
    if response.status_code != 202:
        await target.unchanged()
        return
    await b.worker.run_until_idle()
    stored = json.loads(body)["id"]
    async with b.instance.sessions() as db:
        item = await db.scalar(select(InboxItem).where(InboxItem.activity_id == stored))
    assert item is not None
    assert item.state == "ignored", (item.activity_type, item.last_error)
    target.stored = await b.count(InboxItem) - target.counts["inbox_items"]
    await target.unchanged()
    assert await contents(b.instance) == target.rows


@settings(FUZZ, max_examples=2500)
@given(activity=activities(), path=st.sampled_from(INBOXES[:4]))
async def test_signed_malformed_activities(target: Target, activity: dict[str, Any], path: str) -> None:
    await signed_case(target, activity, path)


@settings(FUZZ, max_examples=2900)
@given(activity=activities(actor=ALICE, id_host="a.test"), path=st.sampled_from(INBOXES[:4]))
async def test_signed_semantically_wrong_activities_are_ignored(
    target: Target, activity: dict[str, Any], path: str
) -> None:
    target_id = activity.get("object")
    target_id = target_id.get("id") if isinstance(target_id, dict) else target_id
    # a Follow of restos by alice is a real request to join: not a wrong one
    assume(not (activity.get("type") == "Follow" and target_id == RESTOS))
    await signed_case(target, activity, path)


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", [100, 1_000, 50_000])
async def test_deeply_nested_bodies_are_refused(target: Target, kind: str, depth: int) -> None:
    for keys in (None, target.alice):
        response = await target.post("/inbox", _deep(kind, depth), keys)
        assert response.status_code == 400, response.text
        await target.unchanged()


@pytest.mark.parametrize("size", [1_048_577, 3_000_000])
async def test_bodies_over_the_cap_are_refused_in_bounded_memory(target: Target, size: int) -> None:
    body = as_json({"id": f"https://a.test/huge/{size}", "type": "Like", "actor": ALICE, "summary": "x" * size})
    for keys in (None, target.alice):
        tracemalloc.start()
        try:
            response = await target.post("/inbox", body, keys)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 413
        assert peak < MAX_PEAK, peak
        await target.unchanged()


async def test_a_nul_character_is_refused(target: Target) -> None:
    """No database text holds a NUL character (PostgreSQL refuses it): such an activity is refused, not stored."""
    for field in ("type", "summary"):
        activity = {"id": f"https://a.test/nul/{field}", "type": "Like", "actor": ALICE, field: "Create\u0000"}
        response = await target.post("/inbox", as_json(activity), target.alice)
        assert response.status_code == 400 and "NUL" in response.text
        await target.unchanged()
