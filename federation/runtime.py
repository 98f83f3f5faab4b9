"""Federation at run time: the outbound client, the inbox rate limiter and the worker tasks of one instance.

``create_app`` (and the ``worker`` command) build one ``Federation`` beside the ``Instance``, append its tasks to
the instance's and close it at shutdown. ``transport`` routes outbound HTTP elsewhere (tests use in-process apps).
"""

from __future__ import annotations

import httpx

from federation import policy
from federation.client import FederationClient
from federation.delivery import DeliveryTask
from federation.handlers import Context
from federation.inbox import InboxTask
from federation.nodeinfo_task import NodeInfoTask
from federation.publisher import Publisher
from federation.receive import InboxWriter
from federation.remote import SignerCache
from instance.ratelimit import RateLimiter
from instance.runtime import Instance
from instance.worker import Task


class Federation:
    def __init__(self, instance: Instance, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = instance.settings
        self.sessions = instance.sessions
        self.client = FederationClient(instance.settings, instance.sessions, transport)
        self.signers = SignerCache()  # verified remote keys, for the inbox
        self.inbox_writer = InboxWriter(instance.sessions)  # stores what concurrent inbox requests accept
        self.inbox_recipients: dict[str, float] = {}  # inbox path -> until when it is known to exist
        self.inbox_limiter = RateLimiter(instance.settings.inbox_rate_limit, instance.settings.inbox_rate_window)
        self.context = Context(instance.settings, self.client)
        # the domain's events become activities queued in the same transaction (instance.events)
        instance.sessions.configure(info={"publisher": Publisher(instance.settings)})
        # commits that change the domain policy clear the client's cached copy of it
        policy.watch(instance.sessions, self.client.policy)

    def tasks(self) -> list[Task]:
        """The worker tasks: handle received activities, send deliveries, read the NodeInfo of new domains."""
        return [
            InboxTask(self.context, self.sessions),
            DeliveryTask(self.settings, self.sessions, self.client),
            NodeInfoTask(self.sessions, self.client),
        ]

    async def aclose(self) -> None:
        await self.client.aclose()
