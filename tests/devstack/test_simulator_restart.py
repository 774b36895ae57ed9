"""A stack restarted on the same var dir audits the orders the last one took cleanly.

The sequence a newcomer runs: `make demo` (orders paid), stop, then `make loadtest` on
the same database, which ends with `audit_orders`. The simulator keeps its captures in
the var dir (`simulator-state.sqlite3`), so the second stack's gateway still knows the
first one's payments.
"""

from pathlib import Path

from devstack.processes import SIMULATOR_STATE, Stack, StackConfig, free_port
from tests.devstack.conftest import cart_with, manage, order_post


def _stack(env: dict[str, str], log_dir: Path) -> Stack:
    return Stack(
        StackConfig(
            port=free_port(),
            simulator_port=free_port(),
            env=env,
            log_dir=log_dir,
            ready_timeout=90,
        )
    )


def _a_sku(env: dict[str, str]) -> str:
    code = (
        "from devstack.snapshot import catalog_snapshot; "
        "print(next(s for p in catalog_snapshot()['products'] for s in p['skus']))"
    )
    return manage(env, "shell", "--no-imports", "-c", code).strip()


def test_orders_paid_before_a_restart_audit_clean_after_it(stack_env, tmp_path):
    sku = _a_sku(stack_env)
    # given a stack that took two paid orders, then stopped
    with _stack(stack_env, tmp_path / "first") as first:
        base_url = first.config.base_url
        numbers = []
        for _ in range(2):
            answer = order_post(base_url, cart_with(base_url, sku))
            assert answer.status == 201, answer.body
            assert answer.json()["status"] == "paid"
            numbers.append(answer.json()["number"])
    assert (Path(stack_env["PEAKSTORE_VAR_DIR"]) / SIMULATOR_STATE).is_file()

    # when a new stack starts on the same var dir (new processes, new ports)
    with _stack(stack_env, tmp_path / "second") as second:
        env = {**stack_env, "INTEGRATIONS_UPSTREAM_URL": second.config.upstream_url}
        # then its gateway still knows the captures, and the order audit is clean
        output = manage(env, "audit_orders")

    assert "order audit clean" in output
    assert "2 paid orders" in " ".join(output.split())
