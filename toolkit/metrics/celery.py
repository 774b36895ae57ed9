"""Celery observability: task outcomes and latency, queue depth, and the request id.

Celery's own signals are the right hook here. This is the observability mechanism
watching every task the same way (the way the request middleware watches every view),
not one app reacting to another's business event, which the project keeps to explicit
calls. `celery_observability_install()` connects the receivers; the Celery app calls it.

Queue depth is read from the broker when it is asked for (at scrape time), so it is
never stale and needs no periodic task: kombu's filesystem transport keeps one file per
waiting message, AMQP answers a passive queue declare, Redis keeps a list per queue.
"""

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from celery import Celery, Task
from celery.signals import before_task_publish, task_postrun, task_prerun
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from toolkit.once import created_once
from toolkit.request_context import (
    TASK_HEADER,
    request_id_get,
    request_id_reset,
    request_id_set,
)

logger = logging.getLogger(__name__)

PUBLISHED_AT_HEADER = "peakstore_published_at"
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

TASK_RUNS = Counter(
    "peakstore_celery_tasks",
    "Task runs by task name and final state (success, failure, retry).",
    ["task", "state"],
)
TASK_DURATION = Histogram(
    "peakstore_celery_task_duration_seconds",
    "Time a task ran in the worker, by task name.",
    ["task"],
    buckets=TASK_BUCKETS,
)
TASK_QUEUE_WAIT = Histogram(
    "peakstore_celery_task_queue_wait_seconds",
    "Time from publishing a task to a worker starting it, by task name.",
    ["task"],
    buckets=TASK_BUCKETS,
)

# task id -> (started at, context token), for the run in progress in this process.
_running: dict[str, tuple[float, Any]] = {}


def _on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None:
        return
    if request_id := request_id_get():
        headers.setdefault(TASK_HEADER, request_id)
    headers.setdefault(PUBLISHED_AT_HEADER, time.time())


def _header(task: Task, name: str) -> Any:
    """A custom message header: an attribute of the request in a worker, or (for
    `apply(headers=...)`) an entry of its `headers`."""
    request = task.request
    return getattr(request, name, None) or (getattr(request, "headers", None) or {}).get(name)


def _on_prerun(task_id: str, task: Task, **_: Any) -> None:
    # An eager task runs inside the publisher's context: keep its id when none was sent.
    request_id = _header(task, TASK_HEADER) or request_id_get()
    token = request_id_set(request_id) if request_id else None
    _running[task_id] = (time.perf_counter(), token)
    if published_at := _header(task, PUBLISHED_AT_HEADER):
        TASK_QUEUE_WAIT.labels(task.name).observe(max(time.time() - float(published_at), 0))


def _on_postrun(task_id: str, task: Task, state: str | None = None, **_: Any) -> None:
    started, token = _running.pop(task_id, (None, None))
    if started is not None:
        TASK_DURATION.labels(task.name).observe(time.perf_counter() - started)
    TASK_RUNS.labels(task.name, (state or "unknown").lower()).inc()
    if token is not None:
        request_id_reset(token)


@created_once
def celery_observability_install() -> None:
    """Connect the task hooks once per process (weak=False: they are module functions)."""
    before_task_publish.connect(_on_publish, weak=False)
    task_prerun.connect(_on_prerun, weak=False)
    task_postrun.connect(_on_postrun, weak=False)


def celery_queue_depth(app: Celery, queue: str, *, timeout: float = 1.0) -> int:
    """Return how many messages wait in `queue` on the app's broker.

    Raise OSError (or the transport's error) when the broker cannot be asked in time.
    """
    with app.connection_for_read(connect_timeout=timeout) as connection:
        # kombu adds the timeout to time(): seconds as a float work; its stubs say int.
        connection.ensure_connection(max_retries=0, timeout=timeout)  # type: ignore[arg-type]
        driver = connection.transport.driver_type
        if driver == "filesystem":
            folder = (connection.transport_options or {})["data_folder_in"]
            suffix = f".{queue}.msg"
            return sum(1 for entry in os.scandir(folder) if entry.name.endswith(suffix))
        channel = connection.default_channel
        # The stubs type the channel as the transports' common base; each driver's own
        # channel has the call.
        if driver == "redis":
            return int(channel.client.llen(queue))  # type: ignore[attr-defined]
        if driver == "amqp":
            try:
                declared = channel.queue_declare(queue=queue, passive=True)  # type: ignore[attr-defined]
                return int(declared.message_count)
            except connection.channel_errors:
                return 0  # no such queue yet: nothing waits in it
        raise NotImplementedError(f"queue depth is not implemented for {driver}")


class CeleryQueueCollector(Collector):
    """Sample the depth of the given queues at scrape time (and whether the broker answers)."""

    def __init__(self, app: Celery, queues: tuple[str, ...], *, timeout: float = 1.0) -> None:
        self.app = app
        self.queues = queues
        self.timeout = timeout

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "peakstore_celery_queue_depth", "Messages waiting in a queue.", labels=["queue"]
        )
        broker_up = GaugeMetricFamily(
            "peakstore_celery_broker_up", "1 if the broker answered the depth probe, else 0."
        )
        try:
            for queue in self.queues:
                depth.add_metric([queue], celery_queue_depth(self.app, queue, timeout=self.timeout))
        except Exception:
            logger.warning("queue depth probe failed", exc_info=True)
            broker_up.add_metric([], 0)
        else:
            broker_up.add_metric([], 1)
            yield depth
        yield broker_up
