"""The worker reads a remote server's NodeInfo on the origin its actors use, port included."""

from __future__ import annotations

from federation.nodeinfo_task import NodeInfoTask
from instance.models import FederatedDomain, RemoteActor, utcnow
from tests.federation_support import Pair

pytest_plugins = ["tests.federation_fixtures"]


async def remember_actor(pair: Pair, uri: str) -> None:
    async with pair.b.instance.sessions() as db:
        db.add(
            RemoteActor(
                uri=uri,
                domain="a.test",
                actor_type="Person",
                inbox=f"{uri}/inbox",
                key_id=f"{uri}#main-key",
                public_key_pem="",
                fetched_at=utcnow(),
            )
        )
        await db.commit()


async def test_nodeinfo_is_read_on_the_port_of_the_actors_origin(pair: Pair) -> None:
    await remember_actor(pair, "https://a.test:8443/users/zed")
    task = NodeInfoTask(pair.b.instance.sessions, pair.b.app.state.federation.client, interval=0)

    assert await task.run_once() == 1

    asked = [str(request.url) for request in pair.router.to("a.test") if "nodeinfo" in request.url.path]
    assert asked[0] == "https://a.test:8443/.well-known/nodeinfo"
    [row] = await pair.b.rows(FederatedDomain)
    assert row.software == "benevalibre-fed"


async def test_nodeinfo_of_a_domain_without_known_origin_is_asked_over_https(pair: Pair) -> None:
    async with pair.b.instance.sessions() as db:
        db.add(FederatedDomain(domain="a.test"))
        await db.commit()
    task = NodeInfoTask(pair.b.instance.sessions, pair.b.app.state.federation.client, interval=0)

    assert await task.run_once() == 1

    asked = [str(request.url) for request in pair.router.to("a.test") if "nodeinfo" in request.url.path]
    assert asked[0] == "https://a.test/.well-known/nodeinfo"
