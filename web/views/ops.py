"""For the people and machines that run the instance: ``/healthz`` and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from instance.runtime import Instance
from instance.services.health import Gauge, check_health, gauges
from web.ops_middleware import request_counts

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def healthz(request: Request) -> Response:
    """200 when the database answers, is migrated and a worker reported recently; 503 with the reasons."""
    instance: Instance = request.app.state.instance
    health = await check_health(instance.engine, instance.sessions)
    body = {"status": "ok" if health.ok else "fail", "checks": health.checks}
    return JSONResponse(body, status_code=200 if health.ok else 503, headers={"Cache-Control": "no-store"})


def _bearer(request: Request) -> str:
    scheme, _space, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return "{" + inner + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def exposition(counts: dict[str, int], metrics: list[Gauge]) -> str:
    lines = [
        "# HELP benevalibre_http_requests_total HTTP requests answered by this process, by status class.",
        "# TYPE benevalibre_http_requests_total counter",
    ]
    for status_class in ("1xx", "2xx", "3xx", "4xx", "5xx"):
        lines.append(f'benevalibre_http_requests_total{{status="{status_class}"}} {counts.get(status_class, 0)}')
    for gauge in metrics:
        lines.append(f"# HELP {gauge.name} {gauge.help}")
        lines.append(f"# TYPE {gauge.name} gauge")
        lines.extend(f"{gauge.name}{_labels(labels)} {_number(value)}" for labels, value in gauge.values)
    return "\n".join(lines) + "\n"


async def metrics(request: Request) -> Response:
    """Prometheus metrics for the holder of ``metrics_token`` (401 otherwise); 404 when no token is set."""
    instance: Instance = request.app.state.instance
    expected = instance.settings.metrics_token
    if not expected:
        return PlainTextResponse("Not Found\n", status_code=404)
    if not hmac.compare_digest(_bearer(request).encode(), expected.encode()):
        return PlainTextResponse(
            "A bearer token is needed.\n", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    async with instance.sessions() as db:
        values = await gauges(db)
    text = exposition(dict(request_counts(request.app)), values)
    return Response(text, media_type=PROMETHEUS_TYPE, headers={"Cache-Control": "no-store"})


routes: list[BaseRoute] = [
    Route("/healthz", healthz, name="healthz"),
    Route("/metrics", metrics, name="metrics"),
]
