"""One declaration per API route: the route itself, its checks and its OpenAPI operation come from it.

An ``Endpoint`` names its method and path, summary, scope, parameters, request and response schemas, and
an example request. ``view(endpoint)`` turns it into a Starlette endpoint that authenticates the token,
enforces the scope, reads and checks the parameters and body against their schemas, runs the handler
(which only calls services) and turns its result or its domain error into JSON. ``openapi.py`` writes the
document from the same objects, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from instance import i18n
from instance.errors import DomainError, NotFound, ValidationError
from instance.i18n import lazy_gettext
from instance.models import TokenScope
from instance.runtime import Instance
from web.api.auth import Caller, authenticate
from web.api.errors import BadRequest, domain_error_response

Schema = dict[str, Any]
MAX_BODY = 256 * 1024


@dataclass(frozen=True)
class Param:
    """A query (or path) parameter; ``schema`` is a JSON Schema of one string, integer, boolean or date."""

    name: str
    schema: Schema
    description: str
    required: bool = False
    where: str = "query"


@dataclass(frozen=True)
class Example:
    """A request that works once the test data exist: path values are filled in by name."""

    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass
class Call:
    """What a handler gets: the request, an open session, the caller, and the checked inputs."""

    request: Request
    db: AsyncSession
    caller: Caller
    instance: Instance
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any

    @property
    def user(self) -> Any:
        return self.caller.user


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # OpenAPI form: /api/v1/me/entries/{entry_id}
    handler: Handler
    summary: str
    scope: TokenScope = TokenScope.READ
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    response: Schema | None = None  # JSON body of the success answer (None: no body, or a file)
    status: int = 200
    media_type: str = "application/json"
    errors: tuple[int, ...] = ()  # statuses besides those every route may answer
    account: bool = False  # refused to tokens limited to one association
    example: Example = field(default_factory=Example)
    tag: str = ""
    description: str = ""

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def route_path(self) -> str:
        """The Starlette path: integer path parameters get the ``:int`` converter."""
        path = self.path
        for param in self.params:
            if param.where == "path" and param.schema.get("type") == "integer":
                path = path.replace("{" + param.name + "}", "{" + param.name + ":int}")
        return path

    def statuses(self) -> list[int]:
        """Every status this route may answer, success first."""
        found = {401, 403, 429, *self.errors}
        if self.body is not None:
            found.update({400, 422})
        if any(p.where == "query" for p in self.params):
            found.add(422)
        if any(p.where == "path" for p in self.params):
            found.add(404)
        return [self.status, *sorted(found)]


# -- reading the inputs ------------------------------------------------------------------------------------


def _read_param(param: Param, text: str) -> Any:
    kind, fmt = param.schema.get("type"), param.schema.get("format")
    value: Any = text
    try:
        if kind == "integer":
            if not re.fullmatch(r"-?\d{1,18}", text):
                raise ValueError(text)
            value = int(text)
        elif kind == "boolean":
            value = {"true": True, "false": False, "1": True, "0": False}[text.lower()]
        elif fmt == "date":
            dt.date.fromisoformat(text)
    except (ValueError, KeyError):
        raise ValidationError({param.name: lazy_gettext("This value is not valid.")}) from None
    errors = list(Draft202012Validator(param.schema).iter_errors(value))
    if errors:
        raise ValidationError({param.name: errors[0].message})
    return dt.date.fromisoformat(text) if fmt == "date" else value


def read_query(endpoint: Endpoint, request: Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    problems: dict[str, object] = {}
    for param in endpoint.params:
        if param.where != "query":
            continue
        text = request.query_params.get(param.name)
        if text is None or text == "":
            if param.required:
                problems[param.name] = lazy_gettext("This parameter is required.")
            elif "default" in param.schema:
                values[param.name] = param.schema["default"]
            continue
        try:
            values[param.name] = _read_param(param, text)
        except ValidationError as error:
            problems.update(error.fields)
    if problems:
        raise ValidationError(problems)
    return values


def read_path(endpoint: Endpoint, request: Request) -> dict[str, Any]:
    """The path parameters; a value outside its schema (an id too large to exist) is simply not found."""
    values = dict(request.path_params)
    for param in endpoint.params:
        if param.where == "path" and not Draft202012Validator(param.schema).is_valid(values.get(param.name)):
            raise NotFound(lazy_gettext("Nothing here."))
    return values


def body_validator(schema: Schema) -> Draft202012Validator:
    return Draft202012Validator(schema)


def _field_of(error: Any) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        match = re.match(r"'([^']+)'", error.message)
        path.append(match.group(1) if match else "")
    elif error.validator == "additionalProperties":
        match = re.search(r"\('([^']+)'", error.message)
        path.append(match.group(1) if match else "")
    return ".".join(p for p in path if p) or "body"


def _clean(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def _without_nul(body: Any) -> Any:
    """``body`` with NUL characters dropped from its strings, keys too (walked without recursion, changed in place):
    no database text holds one (PostgreSQL refuses it), as forms drop them in ``web.csrf.read_form``."""
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            pairs = [(_clean(key), _clean(item)) for key, item in node.items()]
            node.clear()
            node.update(pairs)
        elif isinstance(node, list):
            node[:] = [_clean(item) for item in node]
        else:
            continue
        stack.extend(
            item for item in (node.values() if isinstance(node, dict) else node) if isinstance(item, dict | list)
        )
    return _clean(body)


async def read_body(endpoint: Endpoint, request: Request) -> Any:
    if endpoint.body is None:
        return None
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequest(lazy_gettext("The body is too large."))
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(lazy_gettext("The body must be JSON (Content-Type: application/json).")) from None
    if "\\u0000" in raw.decode(json.detect_encoding(raw), "replace"):  # the only way JSON holds a NUL
        body = _without_nul(body)
    problems: dict[str, object] = {}
    for error in body_validator(endpoint.body).iter_errors(body):
        problems.setdefault(_field_of(error), error.message)
    if problems:
        raise ValidationError(problems)
    return body


# -- the view ----------------------------------------------------------------------------------------------


def _language(request: Request, caller: Caller, instance: Instance) -> str:
    if caller.user.language in i18n.LANGUAGES:
        return str(caller.user.language)
    return i18n.negotiate(request.headers.get("accept-language", ""), instance.settings.default_language)


def _answer(endpoint: Endpoint, result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204 if endpoint.status == 204 else endpoint.status)
    return JSONResponse(result, status_code=endpoint.status, headers={"Cache-Control": "no-store"})


def view(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        instance: Instance = request.app.state.instance
        async with instance.sessions() as db:
            try:
                caller = await authenticate(request, db)
                await db.commit()  # the token's last use
                caller.require_scope(endpoint.scope)
                if endpoint.account:
                    caller.require_account()
            except DomainError as error:
                return domain_error_response(error)
            token = i18n.set_language(_language(request, caller, instance))
            try:
                query = read_query(endpoint, request)
                body = await read_body(endpoint, request)
                call = Call(request, db, caller, instance, read_path(endpoint, request), query, body)
                return _answer(endpoint, await endpoint.handler(call))
            except DomainError as error:
                return domain_error_response(error)
            finally:
                i18n.reset_language(token)

    run.__name__ = endpoint.operation_id
    return run
