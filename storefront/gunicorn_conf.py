"""gunicorn settings the stack passes with `--config python:storefront.gunicorn_conf`.

Only what the metrics need: when a worker exits, its live gauges (requests in flight)
must stop counting, or a restarted worker's last value would stay in the sum forever.
Counters and histograms of a dead worker are kept: what it counted did happen.
"""

from typing import Any

from prometheus_client import multiprocess


def child_exit(server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)
