"""Run the store's processes, and load scenarios against them.

`processes` supervises gunicorn and the Celery worker (and later the upstream simulator);
`loadrun` drives Locust against a running stack; `scenarios` names what to run.
"""

from storefront.stack.prepare import store_prepare
from storefront.stack.processes import (
    ProcessSpec,
    Stack,
    StackConfig,
    StackError,
    free_port,
    http_ready,
    http_status,
    sigterm_as_interrupt,
    stack_processes,
)

__all__ = [
    "ProcessSpec",
    "Stack",
    "StackConfig",
    "StackError",
    "free_port",
    "http_ready",
    "http_status",
    "sigterm_as_interrupt",
    "stack_processes",
    "store_prepare",
]
