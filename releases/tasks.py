"""The gate's clock: Celery beat runs `releases_evaluate_task` every few seconds."""

import logging

from celery import shared_task

from releases.services import releases_evaluate

logger = logging.getLogger(__name__)


@shared_task
def releases_evaluate_task() -> int:
    """Judge every running rollout on its cohort metrics. Returns the decisions taken."""
    decisions = releases_evaluate()
    for decision in decisions:
        logger.warning(
            "release %s: %s by the gate (%s%% -> %s%%): %s",
            decision.flag.name,
            decision.action,
            decision.exposure_before_bp / 100,
            decision.exposure_after_bp / 100,
            decision.reason,
        )
    return len(decisions)


@shared_task(name="toolkit.releases.tasks.releases_evaluate_task")
def releases_evaluate_task_before_the_move() -> int:
    """Run messages sent under the task's name from before the releases app existed.

    A broker may still hold them during an upgrade (a beat that has not restarted yet);
    without this name the worker would reject them as unregistered.
    """
    return releases_evaluate_task()
