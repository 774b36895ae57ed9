"""A stack restarted on the same var dir audits the orders the last one took cleanly.

The sequence a newcomer runs: `make demo` (orders paid), stop, then `make loadtest` on
the same database, which ends with `audit_orders`. The simulator keeps its captures and
the ERP's bookings in the var dir (`simulator-state.sqlite3`), so the second stack's
gateway still knows the first one's payments, and its ERP the units it shipped: the
scheduled syncs from the PIM and the ERP find nothing to change.
"""

from pathlib import Path

from devstack.processes import SIMULATOR_BOOKS, SIMULATOR_STATE, Stack, StackConfig, free_port
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
    books = Path(stack_env["PEAKSTORE_VAR_DIR"]) / SIMULATOR_BOOKS
    # the books a new store is seeded with (what `store_prepare` writes)
    write_books = (
        "from pathlib import Path; from devstack.snapshot import simulator_books_write; "
        f"simulator_books_write(path=Path({str(books)!r}))"
    )
    manage(stack_env, "shell", "--no-imports", "-c", write_books)
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
        # and the systems of record agree with the store: the syncs change nothing
        syncs = manage(
            env,
            "shell",
            "--no-imports",
            "-c",
            "from pricing.tasks import prices_sync_from_pim_task as p; "
            "from inventory.tasks import stock_sync_from_erp_task as s; print(p(), s())",
        )

    assert "order audit clean" in output
    assert "2 paid orders" in " ".join(output.split())
    assert syncs.count("'changed': 0}") == 2, syncs
