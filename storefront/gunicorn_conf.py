"""gunicorn settings the stack passes with `--config python:storefront.gunicorn_conf`.

Hooks only. When a worker exits, its live gauges (requests in flight) must stop counting,
or a restarted worker's last value would stay in the sum forever; counters and
histograms of a dead worker are kept: what it counted did happen. When a worker starts,
it imports the URLconf and its views (Django would on its first request), admission
control adopts its listening sockets to read the accept queue, and from then
on the request hooks time every request the worker serves, for admission control's
recent service time (`storefront.admission.ExpectedWait`). A worker boots at a low CPU
priority and goes back to the master's once it has imported the app (`toolkit.priority`),
so the workers serving meanwhile keep the CPU. A booted worker marks itself
in `PEAKSTORE_WEB_READY_DIR` when the stack runner set it, so a deploy's rolling reload
retires an old worker only once its replacement serves (`devstack/processes.py`).
"""

import os
from typing import Any

from prometheus_client import multiprocess

from toolkit.priority import boot_priority_lower, serve_priority_restore

# Admission control's estimator, bound by each worker once it has loaded the app: the
# master never imports it, and a lookup inside the per-request hooks would cost more
# than the hooks' own work.
_expected_wait: Any = None
# The niceness a worker serves at, set while it boots lowered (None: it was not lowered).
_serve_niceness: int | None = None


def child_exit(server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)


def post_fork(server: Any, worker: Any) -> None:
    global _serve_niceness
    # In the new worker, before it imports the app: a second of CPU on a busy host.
    _serve_niceness = boot_priority_lower()


def post_worker_init(worker: Any) -> None:
    global _expected_wait
    # Imported here: by now the worker has loaded the app (and Django), the master has not.
    from storefront.admission import EXPECTED_WAIT, gunicorn_worker_adopt

    gunicorn_worker_adopt(worker)
    _expected_wait = EXPECTED_WAIT
    _urlconf_load()
    serve_priority_restore(_serve_niceness)
    # Booted: a deploy's rolling reload retires an old worker only after this one
    # (devstack/processes.py, Stack.web_reload). Stacks the runner did not start skip it.
    if ready := os.environ.get("PEAKSTORE_WEB_READY_DIR"):
        os.makedirs(ready, exist_ok=True)
        open(os.path.join(ready, str(worker.pid)), "w").close()


def _urlconf_load() -> None:
    """Import the URLconf and the views it names now, before the worker accepts.

    Django imports them on a worker's first request: 60 ms in which that request, and
    every one queued behind it, waits. After a deploy's rolling reload that is the first
    shopper on each new worker, at the spike's peak.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  # a cached property: reading it imports


def pre_request(worker: Any, req: Any) -> None:
    _expected_wait.request_started()


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    # Called after the response is written, whatever happened while answering it.
    _expected_wait.request_finished()
