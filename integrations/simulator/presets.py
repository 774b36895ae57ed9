"""Named fault scenarios: the simulator applies one on `POST /_faults/preset/<name>`.

Defined here, with the simulator, and nowhere else: `python manage.py faults preset
<name>` (through `integrations.fault_presets`) and the load tests' shapes (over HTTP, as
any outside client) both ask the simulator by name. A preset describes the whole
upstream: every dependency it does not name is made healthy.
"""

from typing import Any

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # Everything answers at once.
    "healthy": {},
    # The optional widgets' services stop answering: the product page must not notice.
    "optional-down": {"recommendations": {"hang": True}, "reviews": {"hang": True}},
    # The ERP is slow (p50 800 ms, p99 3 s): imports and exports crawl, pages do not.
    "slow-erp": {"erp": {"latency_ms": [800, 3000]}},
    # One payment call in five fails with 503, answers are slow: retries and breakers.
    "flaky-payment": {"payment": {"error_rate": 0.2, "latency_ms": [150, 900]}},
    # The gateway answers 503 to everything: checkout fails closed, fast.
    "payment-down": {"payment": {"down": True}},
    # A bad afternoon: optional services hang, tax and shipping fail often, ERP is slow.
    "partial-outage": {
        "recommendations": {"hang": True},
        "reviews": {"down": True},
        "tax": {"error_rate": 0.5},
        "shipping": {"reset_rate": 0.3, "latency_ms": [200, 1500]},
        "erp": {"latency_ms": [500, 2000]},
    },
}
