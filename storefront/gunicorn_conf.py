"""gunicorn settings the stack passes with `--config python:storefront.gunicorn_conf`.

Hooks only. When a worker exits, its live gauges (requests in flight) must stop counting,
or a restarted worker's last value would stay in the sum forever; counters and
histograms of a dead worker are kept: what it counted did happen. When a worker starts,
admission control adopts its listening sockets to read the accept queue.
"""

from typing import Any

from prometheus_client import multiprocess


def child_exit(server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    # Imported here: by now the worker has loaded the app (and Django), the master has not.
    from storefront.admission import gunicorn_worker_adopt

    gunicorn_worker_adopt(worker)
