"""Federation at run time: the outbound client, the inbox rate limiter and the worker tasks of one instance.

``create_app`` (and the ``worker`` command) build one ``Federation`` beside the ``Instance``, append its tasks to
the instance's and close it at shutdown. ``transport`` routes outbound HTTP elsewhere (tests use in-process apps).
"""

from __future__ import annotations

import httpx

from federation.client import FederationClient
from federation.delivery import DeliveryTask
from federation.handlers import Context
from federation.inbox import InboxTask
from federation.nodeinfo_task import NodeInfoTask
from federation.publisher import Publisher
from instance.ratelimit import RateLimiter
from instance.runtime import Instance
from instance.worker import Task

# Requests accepted per client address, and per sending domain, in a minute.
INBOX_RATE_LIMIT = 600
INBOX_RATE_WINDOW = 60.0


class Federation:
    def __init__(self, instance: Instance, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = instance.settings
        self.sessions = instance.sessions
        self.client = FederationClient(instance.settings, instance.sessions, transport)
        self.inbox_limiter = RateLimiter(INBOX_RATE_LIMIT, INBOX_RATE_WINDOW)
        self.context = Context(instance.settings, self.client)
        # the domain's events become activities queued in the same transaction (instance.events)
        instance.sessions.configure(info={"publisher": Publisher(instance.settings)})

    def tasks(self) -> list[Task]:
        """The worker tasks: handle received activities, send deliveries, read the NodeInfo of new domains."""
        return [
            InboxTask(self.context, self.sessions),
            DeliveryTask(self.settings, self.sessions, self.client),
            NodeInfoTask(self.sessions, self.client),
        ]

    async def aclose(self) -> None:
        await self.client.aclose()
