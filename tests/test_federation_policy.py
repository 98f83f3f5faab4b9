"""Allow-list mode: b.test federates only with the domains its admin allowed; blocks apply to subdomains."""

from __future__ import annotations

from typing import Any

import pytest

from federation.policy import DomainRefused, check_domain, set_domain
from instance.models import InboxItem
from tests.federation_support import Pair, post_signed

ALICE = "https://a.test/users/alice"


@pytest.fixture
def federation_overrides() -> dict[str, dict[str, Any]]:
    return {"b.test": {"federation_allowlist_only": True}}


def follow(number: int) -> dict[str, Any]:
    return {"id": f"{ALICE}/activities/{number}", "type": "Follow", "actor": ALICE, "object": "https://b.test/x"}


async def test_only_allowed_domains_are_heard(pair: Pair) -> None:
    await pair.a.user("alice")
    keys = await pair.a.keys("alice")

    refused = await post_signed(pair.b, "/inbox", follow(1), keys)
    assert refused.status_code == 403 and pair.router.to("a.test") == []
    async with pair.b.instance.sessions() as db:
        await set_domain(db, "a.test", allowed=True)
        await db.commit()
    accepted = await post_signed(pair.b, "/inbox", follow(2), keys)

    assert accepted.status_code == 202
    assert await pair.b.count(InboxItem) == 1


async def test_a_block_covers_subdomains_and_wins_over_allow(pair: Pair) -> None:
    settings = pair.b.instance.settings
    async with pair.b.instance.sessions() as db:
        await set_domain(db, "example.org", blocked=True, allowed=True, reason="abuse")
        await set_domain(db, "friends.org", allowed=True)
        await db.commit()
        with pytest.raises(DomainRefused, match="abuse"):
            await check_domain(db, settings, "social.example.org")
        await check_domain(db, settings, "social.friends.org")
        with pytest.raises(DomainRefused, match="allow-list"):
            await check_domain(db, settings, "strangers.org")
