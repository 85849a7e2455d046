"""/metrics in Prometheus text format, for an operator token only.

Counts and ages only: no names, no signal ids, no endpoints. Each app has its own registry so
tests can build many apps in one process.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from server import ops
from server.push import oldest_due_age
from server.web import ApiError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "hwc_request_seconds",
            "Request latency per route template",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.app_state: Any = None
        self.registry.register(_StateCollector(self))

    def observe(self, method: str, route: str, seconds: float) -> None:
        self.latency.labels(method, route).observe(seconds)


class _StateCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self.metrics.app_state
        if state is None:
            return
        db, now = state.db, state.clock.now()
        yield _grouped(
            "hwc_signals",
            "Signals by state",
            "state",
            ops.count(db, "signals"),
        )
        yield _grouped(
            "hwc_pushes",
            "Outbox rows by state (sent, failed, gone, pending)",
            "state",
            ops.count(db, "pushes"),
        )
        yield GaugeMetricFamily(
            "hwc_outbox_oldest_due_seconds",
            "Age of the oldest pending push that is due",
            value=oldest_due_age(db, now),
        )
        yield GaugeMetricFamily(
            "hwc_signals_escalated",
            "Signals escalated to the sender",
            value=ops.count(db, "escalated")[0][1],
        )
        yield _grouped(
            "hwc_devices",
            "Devices by state",
            "state",
            ops.count(db, "devices"),
        )
        yield _grouped(
            "hwc_devices_push",
            "Active devices by notification state",
            "push",
            ops.count(db, "devices_push"),
        )


def _grouped(name: str, documentation: str, label: str, rows: Any) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, count in rows:
        family.add_metric([str(key)], count)
    return family


async def metrics_endpoint(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ")
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "metrics_token")
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE)
