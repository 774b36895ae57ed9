"""A task that only records that it ran: deploys are checked with it for tasks lost or run
twice while the Celery worker is replaced (tests/devstack/test_deploy.py, the
`deploy-during-spike` scenario)."""

import os
import time
import uuid

from celery import shared_task

from storefront.settings.environment import ENV

PROBES = "deploy-probes"


@shared_task
def deploy_probe(token: str, seconds: float = 0.0) -> None:
    """Take `seconds`, then leave one file per run under `$PEAKSTORE_VAR_DIR/deploy-probes`."""
    time.sleep(min(seconds, 5.0))
    folder = ENV.var_dir / PROBES
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{token}.{os.getpid()}.{uuid.uuid4().hex[:8]}").touch()
