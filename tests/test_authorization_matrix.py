"""Who may use each route: every route of the app (read from its router), every method, every role.

``MATRIX`` below says, for each route and method, which roles it allows. The test reads the routes from the
application itself, so a route added without a line here fails the test, and so does a line whose route no
longer exists. Each (route, method, role) is then sent, on one seeded world (``tests/authorization_support``):

- an allowed role must get past the checks: a page, a redirect elsewhere than the login page, or a form error
  (400, 409, 410, 422: the bodies sent are empty or harmless);
- a refused role must be refused in the way of the route: on the HTML pages, a redirect to the login page for
  people not logged in (the suspended person's session has ended) and 403 or 404 for the others; on the API,
  401 without a valid token and 403 or 404 with one; on ActivityPub and ``/metrics``, 401 without a signature or
  the metrics token; and a refused POST (or PATCH, DELETE...) must leave the database exactly as it was.

Reads go first, then the writes, route after route; in each case the refused roles go before the allowed ones.
The objects that the allowed roles' requests change each have their own copy in the world (``INPUTS`` points
the route at it), so a case never depends on what an earlier one did.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from instance.runtime import Instance
from instance.services.entries import today
from tests.authorization_support import (
    A_HANDLE,
    ADMIN,
    ANONYMOUS,
    B_HANDLE,
    HIDDEN_HANDLE,
    JOIN_API,
    JOIN_WEB,
    LEAVE_API,
    LEAVE_WEB,
    MANAGER,
    MEMBER,
    OTHER_MANAGER,
    PENDING_HANDLE,
    REMOTE_ACTOR,
    ROLES,
    SUSPENDED,
    VOLUNTEER,
    World,
    changed_tables,
    client,
    database_state,
    log_in_again,
    reset,
    seed,
)
from tests.conftest import PASSWORD
from web.views.activitypub import NegotiatedRoute

AP = "application/activity+json"
METRICS_TOKEN = "matrix-metrics-token"

# -- who is allowed ------------------------------------------------------------------------------------------------

EVERYONE = frozenset(ROLES)
ACCOUNTS = frozenset({VOLUNTEER, MEMBER, MANAGER, OTHER_MANAGER, ADMIN})  # logged in and not suspended
MEMBERS_OF_A = frozenset({MEMBER, MANAGER})
MANAGER_OF_A = frozenset({MANAGER})
AUTHOR = frozenset({MEMBER})  # the member's own entries and tokens
ADMINS = frozenset({ADMIN})
NOBODY: frozenset[str] = frozenset()

# "METHOD /path" as the router declares it; "(activitypub)" marks the ActivityPub side of a URL that also has
# an HTML page. HEAD goes with GET (the same endpoint) and is not listed.
MATRIX: dict[str, frozenset[str]] = {
    # -- discovery and ActivityPub: public documents; the inboxes want signed POSTs (401 unsigned)
    "GET /.well-known/webfinger": EVERYONE,
    "GET /.well-known/host-meta": EVERYONE,
    "GET /.well-known/nodeinfo": EVERYONE,
    "GET /nodeinfo/{version}": EVERYONE,
    "POST /inbox": NOBODY,
    "POST /actor/inbox": NOBODY,
    "POST /users/{handle}/inbox": NOBODY,
    "POST /associations/{handle}/inbox": NOBODY,
    "GET /actor": EVERYONE,
    "GET /users/{handle} (activitypub)": EVERYONE,
    "GET /users/{handle}": EVERYONE,
    "GET /associations/{handle} (activitypub)": EVERYONE,
    "GET /associations/{handle}/followers": EVERYONE,
    "GET /associations/{handle}/catalog": EVERYONE,
    "GET /actor/outbox": EVERYONE,
    "GET /actor/following": EVERYONE,
    "GET /actor/followers": EVERYONE,
    "GET /users/{handle}/outbox": EVERYONE,
    "GET /users/{handle}/following": EVERYONE,
    "GET /users/{handle}/followers": EVERYONE,
    "GET /associations/{handle}/outbox": EVERYONE,
    "GET /associations/{handle}/following": EVERYONE,
    "GET /associations/{handle}/projects/{item_id:int}": EVERYONE,
    "GET /associations/{handle}/categories/{item_id:int}": EVERYONE,
    "GET /associations/{handle}/levels/{item_id:int}": EVERYONE,
    "GET /associations/{handle}/news/{news_id:int} (activitypub)": EVERYONE,
    "GET /associations/{handle}/news/{news_id:int}": EVERYONE,  # a redirect to the association's page
    "GET /entries/{entry_id:int} (activitypub)": NOBODY,  # only for the association it was sent to, signed
    "GET /entries/{entry_id:int}": EVERYONE,  # a redirect to the entry's edit page, which checks
    # -- home, accounts; the links sent by mail (a wrong token here) are open to whoever holds them
    "GET /": EVERYONE,
    "POST /language": EVERYONE,
    "GET /login": EVERYONE,
    "POST /login": EVERYONE,
    "POST /logout": EVERYONE,
    "GET /register": EVERYONE,
    "POST /register": EVERYONE,
    "GET /confirm/resend": EVERYONE,
    "POST /confirm/resend": EVERYONE,
    "GET /confirm/{token}": EVERYONE,
    "POST /confirm/{token}": EVERYONE,
    "GET /password/reset": EVERYONE,
    "POST /password/reset": EVERYONE,
    "GET /password/reset/{token}": EVERYONE,
    "POST /password/reset/{token}": EVERYONE,
    "GET /me": ACCOUNTS,
    "GET /me/edit": ACCOUNTS,
    "POST /me/edit": ACCOUNTS,
    "GET /me/password": ACCOUNTS,
    "POST /me/password": ACCOUNTS,
    "GET /me/email": ACCOUNTS,
    "POST /me/email": ACCOUNTS,
    "GET /me/email/{token}": EVERYONE,
    "POST /me/email/{token}": EVERYONE,
    "GET /me/delete": ACCOUNTS,
    "POST /me/delete": ACCOUNTS,
    # -- associations
    "GET /associations": EVERYONE,
    "GET /associations/new": ACCOUNTS,
    "POST /associations/new": ACCOUNTS,
    "GET /associations/{handle}": EVERYONE,
    "GET /associations/{handle}/edit": MANAGER_OF_A,
    "POST /associations/{handle}/edit": MANAGER_OF_A,
    "GET /associations/{handle}/logo": EVERYONE,
    "POST /associations/{handle}/news": MANAGER_OF_A,
    "POST /associations/{handle}/join": ACCOUNTS,  # an open association nobody of the roles belongs to
    "GET /associations/{handle}/leave": ACCOUNTS,  # the confirmation page
    "POST /associations/{handle}/leave": MEMBERS_OF_A,  # an association the member and manager of A belong to
    "GET /associations/{handle}/members": MANAGER_OF_A,
    "POST /associations/{handle}/members/{member_id:int}/approve": MANAGER_OF_A,
    "POST /associations/{handle}/members/{member_id:int}/refuse": MANAGER_OF_A,
    "POST /associations/{handle}/members/{member_id:int}/role": MANAGER_OF_A,
    "POST /associations/{handle}/members/{member_id:int}/remove": MANAGER_OF_A,
    "GET /associations/{handle}/roles": MANAGER_OF_A,
    "GET /associations/{handle}/roles/new": MANAGER_OF_A,
    "POST /associations/{handle}/roles/new": MANAGER_OF_A,
    "GET /associations/{handle}/roles/{role_id:int}/edit": MANAGER_OF_A,
    "POST /associations/{handle}/roles/{role_id:int}/edit": MANAGER_OF_A,
    "POST /associations/{handle}/roles/{role_id:int}/delete": MANAGER_OF_A,
    "GET /follows": ACCOUNTS,
    "POST /follows": ACCOUNTS,
    # -- the catalog of A
    "GET /associations/{handle}/categories": MANAGER_OF_A,
    "POST /associations/{handle}/categories": MANAGER_OF_A,
    "GET /associations/{handle}/categories/{item_id:int}/edit": MANAGER_OF_A,
    "POST /associations/{handle}/categories/{item_id:int}/edit": MANAGER_OF_A,
    "POST /associations/{handle}/categories/{item_id:int}/archive": MANAGER_OF_A,
    "POST /associations/{handle}/categories/{item_id:int}/delete": MANAGER_OF_A,
    "GET /associations/{handle}/levels": MANAGER_OF_A,
    "POST /associations/{handle}/levels": MANAGER_OF_A,
    "GET /associations/{handle}/levels/{item_id:int}/edit": MANAGER_OF_A,
    "POST /associations/{handle}/levels/{item_id:int}/edit": MANAGER_OF_A,
    "POST /associations/{handle}/levels/{item_id:int}/archive": MANAGER_OF_A,
    "POST /associations/{handle}/levels/{item_id:int}/delete": MANAGER_OF_A,
    "GET /associations/{handle}/projects": MANAGER_OF_A,
    "POST /associations/{handle}/projects": MANAGER_OF_A,
    "GET /associations/{handle}/projects/{item_id:int}/edit": MANAGER_OF_A,
    "POST /associations/{handle}/projects/{item_id:int}/edit": MANAGER_OF_A,
    "POST /associations/{handle}/projects/{item_id:int}/archive": MANAGER_OF_A,
    "POST /associations/{handle}/projects/{item_id:int}/delete": MANAGER_OF_A,
    # -- entries and their moderation
    "GET /entries": ACCOUNTS,
    "GET /entries/new": ACCOUNTS,
    # for A: its members get the form's errors; people who belong to nothing get the page that says to join
    # an association first (nothing is recorded); the manager of B is refused
    "POST /entries/new": frozenset({MEMBER, MANAGER, VOLUNTEER, ADMIN}),
    "GET /entries/{entry_id:int}/edit": AUTHOR,
    "POST /entries/{entry_id:int}/edit": AUTHOR,
    "POST /entries/{entry_id:int}/withdraw": AUTHOR,
    "GET /associations/{handle}/moderation": MANAGER_OF_A,
    "POST /associations/{handle}/moderation/decide": MANAGER_OF_A,
    "GET /associations/{handle}/moderation/new": MANAGER_OF_A,
    "POST /associations/{handle}/moderation/new": MANAGER_OF_A,
    "POST /associations/{handle}/moderation/digest": MANAGER_OF_A,
    "GET /associations/{handle}/anonymous-links": MANAGER_OF_A,
    "POST /associations/{handle}/anonymous-links": MANAGER_OF_A,
    "POST /associations/{handle}/anonymous-links/{link_id:int}/disable": MANAGER_OF_A,
    "GET /a/{token}": EVERYONE,  # whoever holds a live anonymous link
    "POST /a/{token}": EVERYONE,
    # -- reports and exports
    "GET /associations/{handle}/statistics": MANAGER_OF_A,
    "GET /associations/{handle}/valuation": MANAGER_OF_A,
    "GET /associations/{handle}/exports": MANAGER_OF_A,
    "GET /associations/{handle}/export.{fmt}": MANAGER_OF_A,
    "GET /me/entries/export.{fmt}": ACCOUNTS,
    "GET /dashboard": ACCOUNTS,
    "GET /me/cec": ACCOUNTS,
    "GET /me/cec.csv": ACCOUNTS,
    "GET /me/attestation": ACCOUNTS,
    "GET /me/attestation.pdf": MEMBERS_OF_A,  # for A: people involved in it
    "GET /admin/statistics": ADMINS,
    "GET /notifications": ACCOUNTS,
    "POST /notifications/read": ACCOUNTS,
    # -- the instance's administration
    "GET /admin": ADMINS,
    "GET /admin/mail": ADMINS,
    "POST /admin/associations/{association_id:int}/{decision:str}": ADMINS,
    "GET /admin/users": ADMINS,
    "GET /admin/users/{user_id:int}/delete": ADMINS,
    "POST /admin/users/{user_id:int}/delete": ADMINS,
    "POST /admin/users/{user_id:int}/{action:str}": ADMINS,
    "GET /admin/settings": ADMINS,
    "POST /admin/settings": ADMINS,
    "GET /admin/announcements": ADMINS,
    "POST /admin/announcements": ADMINS,
    "POST /admin/announcements/{announcement_id:int}/end": ADMINS,
    "GET /admin/reports": ADMINS,
    "POST /admin/reports/{flag_id:int}/resolve": ADMINS,
    "GET /admin/federation": ADMINS,
    "POST /admin/federation/domains": ADMINS,
    "GET /admin/federation/queue": ADMINS,
    "POST /admin/federation/queue/retry": ADMINS,
    "GET /admin/federation/actors": ADMINS,
    "POST /admin/federation/actors/suspend": ADMINS,
    "POST /admin/federation/actors/{actor_id:int}/{action:str}": ADMINS,
    "GET /healthz": EVERYONE,
    "GET /metrics": NOBODY,  # for the holder of the metrics token only (none of the roles)
    # -- the site, tokens, personal data, records
    "GET /about": EVERYONE,
    "POST /announcements/{announcement_id:int}/dismiss": EVERYONE,  # hides a banner in this browser
    "GET /report": MEMBERS_OF_A,  # reporting an entry of A: its author and the managers of its entries
    "POST /report": MEMBERS_OF_A,
    "GET /me/tokens": ACCOUNTS,
    "POST /me/tokens": ACCOUNTS,
    "POST /me/tokens/{token_id:int}/revoke": AUTHOR,
    "GET /me/data": ACCOUNTS,
    "GET /me/data/archive.zip": ACCOUNTS,
    "GET /associations/{handle}/data.zip": MANAGER_OF_A,
    "GET /me/record": ACCOUNTS,
    "GET /verify": EVERYONE,
    "POST /verify": EVERYONE,
    # -- the API (a bearer token; the roles' tokens may write and are not limited to one association)
    "GET /api/v1/me": ACCOUNTS,
    "PATCH /api/v1/me": ACCOUNTS,
    "DELETE /api/v1/me": ACCOUNTS,
    "GET /api/v1/me/memberships": ACCOUNTS,
    "GET /api/v1/me/archive": ACCOUNTS,
    "GET /api/v1/me/entries": ACCOUNTS,
    "POST /api/v1/me/entries": ACCOUNTS,
    "GET /api/v1/me/entries.csv": ACCOUNTS,
    "GET /api/v1/me/entries/{entry_id:int}": AUTHOR,
    "PATCH /api/v1/me/entries/{entry_id:int}": AUTHOR,
    "POST /api/v1/me/entries/{entry_id:int}/withdraw": AUTHOR,
    "GET /api/v1/me/notifications": ACCOUNTS,
    "POST /api/v1/me/notifications/read": ACCOUNTS,
    "GET /api/v1/associations": ACCOUNTS,
    "GET /api/v1/associations/{handle}": ACCOUNTS,
    "POST /api/v1/associations/lookup": ACCOUNTS,
    "POST /api/v1/associations/{handle}/join": ACCOUNTS,
    "POST /api/v1/associations/{handle}/leave": MEMBERS_OF_A,
    "GET /api/v1/associations/{handle}/members": MANAGER_OF_A,
    "GET /api/v1/associations/{handle}/catalog": ACCOUNTS,
    "GET /api/v1/associations/{handle}/entries": MANAGER_OF_A,
    "POST /api/v1/associations/{handle}/entries/approve": MANAGER_OF_A,
    "POST /api/v1/associations/{handle}/entries/reject": MANAGER_OF_A,
    "POST /api/v1/associations/{handle}/entries/{entry_id:int}/approve": MANAGER_OF_A,
    "POST /api/v1/associations/{handle}/entries/{entry_id:int}/reject": MANAGER_OF_A,
    "GET /api/v1/associations/{handle}/statistics": MANAGER_OF_A,
    "GET /api/v1/associations/{handle}/valuation": MANAGER_OF_A,
    "GET /api/v1/associations/{handle}/entries.csv": MANAGER_OF_A,
    "GET /api/v1/associations/{handle}/archive": MANAGER_OF_A,
    "GET /api/openapi.json": EVERYONE,
    # any other /api/ address: 404 for everyone
    **{f"{method} /api/{{rest:path}}": NOBODY for method in ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")},
    # -- moving an association here
    "GET /moves": ADMINS,
    "GET /moves/import": ACCOUNTS,  # whoever may create an association (anyone here)
    "POST /moves/import": ACCOUNTS,
    "POST /moves/import/confirm": ACCOUNTS,
    "GET /moves/{move_id:int}": frozenset({ADMIN, MANAGER}),  # the admins, and the managers of the moved one
    "GET /moves/activate/{token}": EVERYONE,
    "POST /moves/activate/{token}": EVERYONE,
    "GET /static/{path}": EVERYONE,
}


# -- how each route is called --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """What a case sends besides the seeded ids: path parameters, a query, a form or JSON body. Values are
    templates filled with ``names(world)``."""

    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    json: Any = None


INPUTS: dict[str, Inputs] = {
    "GET /.well-known/webfinger": Inputs(query={"resource": "acct:{member_handle}@a.test"}),
    "GET /entries/{entry_id:int} (activitypub)": Inputs(params={"entry_id": "{remote_entry}"}),
    "GET /a/{token}": Inputs(params={"token": "{link_token}"}),
    "POST /a/{token}": Inputs(params={"token": "{link_token}"}),
    "POST /associations/{handle}/news": Inputs(form={"text": "Matrix news"}),
    "POST /associations/{handle}/join": Inputs(params={"handle": JOIN_WEB}),
    "GET /associations/{handle}/leave": Inputs(params={"handle": LEAVE_WEB}),
    "POST /associations/{handle}/leave": Inputs(params={"handle": LEAVE_WEB}),
    "POST /associations/{handle}/members/{member_id:int}/approve": Inputs(params={"member_id": "{applicant}"}),
    "POST /associations/{handle}/members/{member_id:int}/refuse": Inputs(params={"member_id": "{applicant2}"}),
    "POST /associations/{handle}/members/{member_id:int}/role": Inputs(
        params={"member_id": "{leaver}"}, form={"role": "{spare_role}"}
    ),
    "POST /associations/{handle}/members/{member_id:int}/remove": Inputs(params={"member_id": "{leaver}"}),
    **{
        f"POST /associations/{{handle}}/{kind}/{{item_id:int}}/archive": Inputs(form={"archived": "1"})
        for kind in ("categories", "levels", "projects")
    },
    "POST /entries/new": Inputs(form={"association": A_HANDLE}),
    "POST /entries/{entry_id:int}/withdraw": Inputs(params={"entry_id": "{web_withdraw}"}),
    "POST /associations/{handle}/moderation/decide": Inputs(form={"ids": "{web_decide}", "action": "approve"}),
    "POST /associations/{handle}/moderation/digest": Inputs(form={"digest": "1"}),
    "GET /me/attestation.pdf": Inputs(query={"association": A_HANDLE}),
    "POST /admin/users/{user_id:int}/delete": Inputs(params={"user_id": "{doomed}"}),
    "POST /admin/settings": Inputs(form={"default_hourly_rate": "not a rate"}),
    "POST /admin/reports/{flag_id:int}/resolve": Inputs(form={"resolution": "Looked at."}),
    "POST /admin/federation/domains": Inputs(form={"action": "block", "domain": ""}),
    "POST /admin/federation/actors/suspend": Inputs(form={"uri": REMOTE_ACTOR, "reason": "Spam"}),
    "POST /admin/federation/actors/{actor_id:int}/{action:str}": Inputs(form={"reason": "Spam"}),
    "GET /report": Inputs(query={"kind": "entry", "target": "{pending_entry}"}),
    "POST /report": Inputs(form={"kind": "entry", "target": "{pending_entry}"}),
    "POST /api/v1/me/entries/{entry_id:int}/withdraw": Inputs(params={"entry_id": "{api_withdraw}"}),
    "POST /api/v1/associations/{handle}/join": Inputs(params={"handle": JOIN_API}),
    "POST /api/v1/associations/{handle}/leave": Inputs(params={"handle": LEAVE_API}),
    "POST /api/v1/associations/{handle}/entries/approve": Inputs(json={"ids": []}),
    "POST /api/v1/associations/{handle}/entries/reject": Inputs(json={"ids": [], "reason": "Which project?"}),
    "POST /api/v1/associations/{handle}/entries/{entry_id:int}/approve": Inputs(params={"entry_id": "{api_approve}"}),
    "POST /api/v1/associations/{handle}/entries/{entry_id:int}/reject": Inputs(
        params={"entry_id": "{api_reject}"}, json={"reason": "Which project?"}
    ),
    "GET /static/{path}": Inputs(params={"path": "style.css"}),
}

# path parameters by name, unless ``INPUTS`` says otherwise
DEFAULT_PARAMS = {
    "entry_id": "{pending_entry}",
    "member_id": "{member_membership}",
    "role_id": "{spare_role}",
    "news_id": "{news}",
    "link_id": "{link_to_disable}",
    "token": "not-a-valid-token",
    "version": "2.1",
    "fmt": "csv",
    "association_id": "{pending_association}",
    "decision": "approve",
    "user_id": "{target}",
    "action": "suspend",
    "announcement_id": "{announcement}",
    "flag_id": "{flag}",
    "actor_id": "{remote_person}",
    "token_id": "{spare_token}",
    "move_id": "{move}",
    "rest": "v1/nothing-here",
}
ITEMS = {"projects": "{project}", "categories": "{category}", "levels": "{level}"}
# an activity, sent unsigned to the inboxes
ACTIVITY = {
    "@context": "https://www.w3.org/ns/activitystreams",
    "id": "https://b.test/activities/matrix",
    "type": "Follow",
    "actor": "https://b.test/users/someone",
    "object": "https://a.test/associations/alpha",
}


def names(world: World) -> dict[str, str]:
    return {
        "a": A_HANDLE,
        "member_handle": world.handles[MEMBER],
        **{name: str(value) for name, value in world.entries.items()},
        "member_membership": str(world.memberships[MEMBER]),
        "applicant": str(world.memberships["applicant"]),
        "applicant2": str(world.memberships["applicant2"]),
        "leaver": str(world.memberships["leaver"]),
        "spare_role": str(world.spare_role),
        "news": str(world.news),
        "link_to_disable": str(world.links["to_disable"]),
        "link_token": world.link_token,
        "pending_association": str(world.associations["waiting"]),
        "target": str(world.users["target"]),
        "doomed": str(world.users["doomed"]),
        "announcement": str(world.announcement),
        "flag": str(world.flag),
        "remote_person": str(world.remote_person),
        "spare_token": str(world.spare_token),
        "move": str(world.move),
        "project": str(world.project),
        "category": str(world.category),
        "level": str(world.level),
        "b_category": str(world.b_category),
        "today": today().isoformat(),
    }


# -- the routes of the app -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str  # the key of MATRIX
    method: str
    pattern: str
    kind: str  # page, api, absent (unknown API address), activitypub, metrics


def _kind(route: Route) -> str:
    module = route.endpoint.__module__
    if route.name == "api_not_found":
        return "absent"
    if module.startswith("web.api"):
        return "api"
    if module in ("web.views.activitypub", "web.views.inbox", "web.views.wellknown"):
        return "activitypub"
    if route.name == "metrics":
        return "metrics"
    return "page"


def app_cases(routes: list[BaseRoute], prefix: str = "") -> Iterator[Case]:
    """Every (route, method) of the router, recursing into mounts; HEAD goes with GET."""
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                yield from app_cases(list(route.routes), prefix + route.path)
            else:  # an application of its own (the static files): one file of it stands for all
                yield Case(f"GET {prefix}{route.path}/{{path}}", "GET", f"{prefix}{route.path}/{{path}}", "page")
        elif isinstance(route, NegotiatedRoute):
            path = prefix + route.path
            yield Case(f"GET {path} (activitypub)", "GET", path, "activitypub")
            if route.html is not None:
                yield Case(f"GET {path}", "GET", path, "page")
        elif isinstance(route, Route):
            for method in sorted(set(route.methods or ()) - {"HEAD"}):
                yield Case(f"{method} {prefix}{route.path}", method, prefix + route.path, _kind(route))
        else:
            raise AssertionError(f"a route of a kind the matrix does not know: {route!r}")


PARAM_RE = re.compile(r"\{(\w+)(?::\w+)?\}")


def concrete_path(case: Case, inputs: Inputs, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in inputs.params:
            template = inputs.params[name]
        elif name == "handle":
            template = "{member_handle}" if case.pattern.startswith("/users/") else "{a}"
        elif name == "item_id":
            template = next(v for kind, v in ITEMS.items() if f"/{kind}/" in case.pattern)
        else:
            template = DEFAULT_PARAMS[name]
        return template.format_map(values)

    return PARAM_RE.sub(fill, case.pattern)


# -- sending a case and judging the answer -------------------------------------------------------------------------


def outcome(response: httpx.Response) -> str:
    """``allowed``, ``login`` (sent to the login page), ``refused`` (401, 403, 404), or what else came."""
    status = response.status_code
    if status in (301, 302, 303, 307, 308):  # the login page after a form (a reset asked) is no refusal
        return "login" if response.headers.get("location", "").startswith("/login?next=") else "allowed"
    if status in (401, 403, 404):
        return "refused"
    if 200 <= status < 300 or status in (304, 400, 409, 410, 422):
        return "allowed"
    return f"unexpected {status}"


def refusal_problem(case: Case, role: str, response: httpx.Response) -> str | None:
    """Why this refusal is not the one the route owes this role, if it is not."""
    found = outcome(response)
    status = response.status_code
    logged_out = role in (ANONYMOUS, SUSPENDED)
    if case.kind == "page":
        if logged_out and found != "login":
            return f"{status} instead of a redirect to the login page"
        if not logged_out and status not in (403, 404):
            return f"{status} ({found}) instead of 403 or 404"
    elif case.kind == "api":
        if logged_out and status != 401:
            return f"{status} instead of 401"
        if not logged_out and status not in (403, 404):
            return f"{status} instead of 403 or 404"
    elif case.kind in ("activitypub", "metrics"):
        if status != 401:
            return f"{status} instead of 401"
    elif status != 404:
        return f"{status} instead of 404"
    return None


@dataclass
class Matrix:
    app: Starlette
    world: World
    browsers: dict[str, httpx.AsyncClient]
    values: dict[str, str]
    problems: list[str] = field(default_factory=list)
    sent: int = 0

    async def send(
        self, case: Case, role: str, inputs: Inputs | None = None, token: str | None = None
    ) -> httpx.Response:
        """Send ``case`` as ``role`` (with ``INPUTS``, or ``inputs``; with the role's token, or ``token``)."""
        person = self.world.people[role]
        browser = self.browsers[role]
        reset(browser, person)
        inputs = INPUTS.get(case.key, Inputs()) if inputs is None else inputs
        path = concrete_path(case, inputs, self.values)
        query = {k: v.format_map(self.values) for k, v in inputs.query.items()}
        headers: dict[str, str] = {}
        token = person.token if token is None else token
        if case.kind in ("api", "absent", "metrics") and token:
            headers["Authorization"] = f"Bearer {token}"
        self.sent += 1
        if case.kind == "activitypub":
            headers["Accept"] = AP
            if case.method == "POST":
                headers["Content-Type"] = AP
                return await browser.post(path, json=ACTIVITY, headers=headers)
            return await browser.get(path, params=query, headers=headers)
        if case.method == "GET":
            return await browser.get(path, params=query, headers=headers)
        if case.kind in ("api", "absent"):
            body = {} if inputs.json is None else inputs.json
            return await browser.request(case.method, path, params=query, json=body, headers=headers)
        form = {k: v.format_map(self.values) for k, v in inputs.form.items()}
        form["csrf_token"] = person.csrf
        return await browser.request(case.method, path, params=query, data=form, headers=headers)

    async def run(self, case: Case) -> None:
        allowed = MATRIX[case.key]
        writes = case.method != "GET"
        instance: Instance = self.app.state.instance
        before = await database_state(instance) if writes else None
        for role in sorted(ROLES, key=lambda r: r in allowed):  # the refused roles first
            response = await self.send(case, role)
            label = f"{case.key} as {role}"
            if response.status_code >= 500 or outcome(response).startswith("unexpected"):
                self.problems.append(f"{label}: {response.status_code} {response.text[:200]!r}")
            elif role in allowed:
                if outcome(response) != "allowed":
                    where = response.headers.get("location", "")
                    self.problems.append(f"{label}: refused ({response.status_code} {where}) but should be allowed")
            else:
                problem = refusal_problem(case, role, response)
                if problem:
                    self.problems.append(f"{label}: should be refused, got {problem}")
                if before is not None:
                    after = await database_state(instance)
                    changed = changed_tables(before, after)
                    if changed:
                        self.problems.append(f"{label}: refused, yet it changed {', '.join(changed)}")
                        before = after
        if case.key == "POST /logout":  # it ended every role's session, for good
            await log_in_again(self.app, self.world)


# -- the matrix ----------------------------------------------------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # the matrix sends hundreds of requests from one address: the rate limits are not its subject
    return {"login_rate_limit": 100_000, "api_rate_limit": 100_000, "metrics_token": METRICS_TOKEN}


def test_every_route_of_the_app_is_in_the_matrix(app: Starlette) -> None:
    found = {case.key for case in app_cases(list(app.routes))}
    assert sorted(found - set(MATRIX)) == [], "routes without a line in MATRIX: say who may use them"
    assert sorted(set(MATRIX) - found) == [], "lines of MATRIX for routes the app no longer has"
    assert sorted(set(INPUTS) - found) == [], "INPUTS for routes the app no longer has"


def test_a_suspended_person_is_allowed_exactly_what_a_visitor_is() -> None:
    different = [key for key, roles in MATRIX.items() if (ANONYMOUS in roles) != (SUSPENDED in roles)]
    assert different == []


async def test_each_route_allows_exactly_whom_it_should(app: Starlette) -> None:
    world = await seed(app)
    # suspended: the session that was open has ended (the matrix shows it) and logging in again is refused
    async with client(app, world.people[ANONYMOUS]) as browser:
        email = f"{world.handles[SUSPENDED]}@example.org"
        data = {"email": email, "password": PASSWORD, "csrf_token": world.people[ANONYMOUS].csrf}
        refused = await browser.post("/login", data=data)
        assert refused.status_code == 400, refused.text
        assert "This account is suspended" in refused.text
        assert (await browser.get("/me")).headers["location"].startswith("/login?next=")
    browsers = {role: client(app, world.people[role]) for role in ROLES}
    matrix = Matrix(app, world, browsers, names(world))
    cases = list(app_cases(list(app.routes)))
    try:
        for case in sorted(cases, key=lambda c: c.method != "GET"):  # reads first, in the router's order
            await matrix.run(case)
    finally:
        for browser in browsers.values():
            await browser.aclose()
    assert matrix.sent == len(cases) * len(ROLES)
    assert not matrix.problems, f"{len(matrix.problems)} of {matrix.sent} cases:\n" + "\n".join(matrix.problems)


# -- refusals the roles alone do not show --------------------------------------------------------------------------

# The manager of B on B's own pages, pointed at A's objects (the ids of A's members, roles, catalog, links and
# entries): each is refused.
THROUGH_B = Inputs(params={"handle": B_HANDLE})
ACROSS: dict[str, Inputs] = {
    "GET /associations/{handle}/projects/{item_id:int}": THROUGH_B,
    "GET /associations/{handle}/categories/{item_id:int}": THROUGH_B,
    "GET /associations/{handle}/levels/{item_id:int}": THROUGH_B,
    "GET /associations/{handle}/news/{news_id:int} (activitypub)": THROUGH_B,
    "GET /associations/{handle}/roles/{role_id:int}/edit": THROUGH_B,
    "POST /associations/{handle}/roles/{role_id:int}/edit": Inputs(params={"handle": B_HANDLE}, form={"name": "Taken"}),
    "POST /associations/{handle}/roles/{role_id:int}/delete": THROUGH_B,
    "POST /associations/{handle}/members/{member_id:int}/approve": Inputs(
        params={"handle": B_HANDLE, "member_id": "{applicant}"}
    ),
    "POST /associations/{handle}/members/{member_id:int}/refuse": Inputs(
        params={"handle": B_HANDLE, "member_id": "{applicant2}"}
    ),
    "POST /associations/{handle}/members/{member_id:int}/role": Inputs(params={"handle": B_HANDLE}),
    "POST /associations/{handle}/members/{member_id:int}/remove": Inputs(
        params={"handle": B_HANDLE, "member_id": "{leaver}"}
    ),
    **{
        f"{method} /associations/{{handle}}/{kind}/{{item_id:int}}/{action}": Inputs(
            params={"handle": B_HANDLE}, form={"name": "Taken", "archived": "1"}
        )
        for kind in ("categories", "levels", "projects")
        for method, action in (("GET", "edit"), ("POST", "edit"), ("POST", "archive"), ("POST", "delete"))
    },
    "POST /associations/{handle}/anonymous-links/{link_id:int}/disable": THROUGH_B,
    "POST /api/v1/associations/{handle}/entries/{entry_id:int}/approve": Inputs(
        params={"handle": B_HANDLE, "entry_id": "{api_approve}"}
    ),
    "POST /api/v1/associations/{handle}/entries/{entry_id:int}/reject": Inputs(
        params={"handle": B_HANDLE, "entry_id": "{api_reject}"}, json={"reason": "Which project?"}
    ),
}
# ... and where the ids travel in the body, the answer may be a success that changed nothing
ACROSS_IN_BODY: dict[str, Inputs] = {
    "POST /associations/{handle}/moderation/decide": Inputs(
        params={"handle": B_HANDLE}, form={"ids": "{pending_entry}", "action": "approve"}
    ),
    "POST /associations/{handle}/moderation/new": Inputs(
        params={"handle": B_HANDLE},
        form={
            "member": "{member_id}",
            "category": "{category}",
            "start_date": "{today}",
            "duration": "60",
            "title": "Not here",
        },
    ),
}
ENTRY_FORM = {"start_date": "{today}", "duration": "60", "title": "Elsewhere", "category": "{b_category}"}


def _api_write(case: Case) -> bool:
    return case.kind == "api" and case.method != "GET"


async def test_objects_of_one_association_cannot_be_reached_from_another_or_beyond_a_token(app: Starlette) -> None:
    world = await seed(app)
    browsers = {role: client(app, world.people[role]) for role in ROLES}
    values = {**names(world), "member_id": str(world.users[MEMBER])}
    matrix = Matrix(app, world, browsers, values)
    cases = {case.key: case for case in app_cases(list(app.routes))}
    assert sorted((set(ACROSS) | set(ACROSS_IN_BODY)) - set(cases)) == []
    instance: Instance = app.state.instance
    problems: list[str] = []

    async def attempt(label: str, case: Case, role: str, inputs: Inputs, token: str | None, refused: bool) -> None:
        before = await database_state(instance)
        response = await matrix.send(case, role, inputs, token)
        if refused and outcome(response) != "refused":
            problems.append(f"{label}: {response.status_code}, not refused")
        elif response.status_code >= 500:
            problems.append(f"{label}: {response.status_code}")
        changed = changed_tables(before, await database_state(instance))
        if changed:
            problems.append(f"{label}: changed {', '.join(changed)}")

    try:
        for key, inputs in ACROSS.items():
            await attempt(f"{key} by B's manager for A", cases[key], OTHER_MANAGER, inputs, None, True)
        for key, inputs in ACROSS_IN_BODY.items():
            await attempt(f"{key} by B's manager for A", cases[key], OTHER_MANAGER, inputs, None, False)
        # the member's own pending entry, given a category of B
        edit = cases["POST /entries/{entry_id:int}/edit"]
        await attempt("the member's entry moved to B's category", edit, MEMBER, Inputs(form=ENTRY_FORM), None, False)
        for case in cases.values():
            if _api_write(case):  # a token that may only read writes nothing
                label = f"{case.key} with a read-only token"
                await attempt(label, case, MANAGER, INPUTS.get(case.key, Inputs()), world.manager_tokens["read"], True)
            if case.kind == "api" and "{handle}" in case.pattern:  # a token limited to another association
                label = f"{case.key} for A with a token limited to another association"
                inputs = INPUTS.get(case.key, Inputs())
                inputs = Inputs({**inputs.params, "handle": A_HANDLE}, inputs.query, inputs.form, inputs.json)
                await attempt(label, case, MANAGER, inputs, world.manager_tokens["limited"], True)
    finally:
        for browser in browsers.values():
            await browser.aclose()
    assert not problems, "\n".join(problems)


# -- associations that are not public ------------------------------------------------------------------------------


def _association_reads(cases: list[Case]) -> list[Case]:
    """The GET routes about one association (pages, API, ActivityPub), but the news link that only redirects."""
    return [
        case
        for case in cases
        if case.method == "GET"
        and case.pattern.startswith(("/associations/{handle}", "/api/v1/associations/{handle}"))
        and case.key != "GET /associations/{handle}/news/{news_id:int}"
    ]


# what those who may see them get (ActivityPub serves neither, to anyone)
INSIDERS = (
    (HIDDEN_HANDLE, MEMBER, "GET /associations/{handle}"),
    (HIDDEN_HANDLE, MEMBER, "GET /associations/{handle}/logo"),
    (HIDDEN_HANDLE, MEMBER, "GET /api/v1/associations/{handle}"),
    (HIDDEN_HANDLE, MEMBER, "GET /api/v1/associations/{handle}/catalog"),
    (PENDING_HANDLE, ADMIN, "GET /associations/{handle}"),
)


async def test_a_hidden_or_waiting_association_shows_nothing_to_others(app: Starlette) -> None:
    """Every read about a hidden association is refused to those who are not its members, and about one waiting
    for approval to all but its members and the admins; its members (and the admin, for the waiting one) see
    its page."""
    world = await seed(app)
    browsers = {role: client(app, world.people[role]) for role in ROLES}
    matrix = Matrix(app, world, browsers, names(world))
    reads = _association_reads(list(app_cases(list(app.routes))))
    hidden = {"handle": HIDDEN_HANDLE, "news_id": str(world.hidden["news"]), "item_id": str(world.hidden["category"])}
    outsiders = {
        HIDDEN_HANDLE: (ANONYMOUS, VOLUNTEER, OTHER_MANAGER, ADMIN, MANAGER),
        PENDING_HANDLE: (ANONYMOUS, VOLUNTEER, OTHER_MANAGER, MEMBER),
    }
    directory = Case("GET /associations", "GET", "/associations", "page")
    problems: list[str] = []
    try:
        for handle, roles in outsiders.items():
            for case in reads:
                params = dict(INPUTS.get(case.key, Inputs()).params)
                params["handle"] = handle
                if handle == HIDDEN_HANDLE:
                    params.update(hidden)
                    for kind in ("levels", "projects"):
                        if f"/{kind}/" in case.pattern:
                            params["item_id"] = str(world.hidden[kind[:-1]])
                inputs = Inputs(params, INPUTS.get(case.key, Inputs()).query)
                for role in roles:
                    response = await matrix.send(case, role, inputs)
                    if outcome(response) not in ("refused", "login"):
                        problems.append(f"{case.key} of {handle} as {role}: {response.status_code}")
            webfinger = await browsers[VOLUNTEER].get(
                "/.well-known/webfinger", params={"resource": f"acct:{handle}@a.test"}
            )
            if webfinger.status_code != 404:
                problems.append(f"webfinger finds {handle}: {webfinger.status_code}")
            for role in roles:
                listed = await matrix.send(directory, role, Inputs(query={"q": handle}))
                if f"/associations/{handle}" in listed.text:
                    problems.append(f"the directory lists {handle} for {role}")
        listed = await matrix.send(directory, MEMBER, Inputs(query={"q": HIDDEN_HANDLE}))
        if f"/associations/{HIDDEN_HANDLE}" not in listed.text:
            problems.append(f"the directory does not list {HIDDEN_HANDLE} for its member")
        by_key = {case.key: case for case in reads}
        for handle, role, key in INSIDERS:
            page = await matrix.send(by_key[key], role, Inputs({"handle": handle}))
            if page.status_code != 200:
                problems.append(f"{key} of {handle} as {role}: {page.status_code}")
    finally:
        for browser in browsers.values():
            await browser.aclose()
    assert not problems, "\n".join(problems)
