"""Bring a database and static files to the state the stack serves from."""

import compileall
import secrets
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import OutputWrapper

from catalog.interface import category_tree_query
from devstack.processes import SIMULATOR_BOOKS, SIMULATOR_CATALOG, SIMULATOR_STATE
from devstack.snapshot import catalog_snapshot_write, simulator_books_write
from storefront.settings.environment import BASE_DIR


def store_prepare(
    *, products: int, stdout: TextIO | OutputWrapper, collect_static: bool = True
) -> None:
    """Migrate, seed only an empty store, and collect static files once.

    Idempotent: a second call migrates nothing, seeds nothing and collects nothing.
    """
    call_command("migrate", interactive=False, verbosity=0, stdout=stdout)
    var_dir = Path(settings.PEAKSTORE_VAR_DIR)
    new_store = not category_tree_query()
    if new_store:
        # A new store has taken no payment: the simulator's record of an older database's
        # captures would read as charges for orders that do not exist.
        state = var_dir / SIMULATOR_STATE
        for path in (state, *(state.with_name(state.name + end) for end in ("-wal", "-shm"))):
            path.unlink(missing_ok=True)
    call_command("seed_store", products=products, if_empty=True, stdout=stdout)
    if new_store:
        # The PIM and the ERP start from the prices and stock the store was seeded with.
        simulator_books_write(path=var_dir / SIMULATOR_BOOKS)
    # The upstream simulator's view of the store: recommendations and reviews of real
    # products. Written every time, so it follows the database.
    catalog_snapshot_write(path=Path(settings.PEAKSTORE_VAR_DIR) / SIMULATOR_CATALOG)
    bytecode_compile()
    static_root = Path(settings.STATIC_ROOT)
    if collect_static and not (static_root.is_dir() and any(static_root.iterdir())):
        stdout.write(f"Collecting static files into {static_root}\n")
        call_command("collectstatic", interactive=False, verbosity=0, stdout=stdout)


def bytecode_compile() -> None:
    """Compile the project's modules to bytecode, as a release build would.

    Every process the stack starts then loads bytecode rather than compiling the source:
    0.2 of a boot's 1.2 s of CPU where `PYTHONDONTWRITEBYTECODE` keeps Python from
    writing it as it imports (this workplace's machines set it). Only what changed since
    the last call is compiled again.
    """
    for package in sorted(BASE_DIR.glob("*/__init__.py")):
        compileall.compile_dir(package.parent, quiet=1)


DEMO_STAFF_USERNAME = "staff"


def demo_staff_user() -> tuple[str, str]:
    """Create (or reset) the local demo's staff user; return its username and password.

    So that /ops/ works out of the box on a laptop. A fresh random password every time,
    printed to the person who started the demo, never stored anywhere else. Local stacks
    only: production settings do not install devstack, so no command there can call it.
    """
    from django.contrib.auth import get_user_model

    password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(username=DEMO_STAFF_USERNAME)
    user.is_staff = True
    user.is_active = True
    user.set_password(password)
    user.save()
    return DEMO_STAFF_USERNAME, password
