"""The secret key of a store that was given none: generated once, kept with its data.

Every process of a store (gunicorn workers, Celery worker and beat, management commands)
reads the same file under PEAKSTORE_VAR_DIR, so sessions, CSRF tokens and signed cookies
made by one are valid in all. The first process to need it creates it atomically: it
writes a whole key under a name of its own, then links that into place, which fails if
another process got there first; the loser reads the winner's key. Production never
comes here: it refuses to start without DJANGO_SECRET_KEY (`production.py`).
"""

import contextlib
import os
import secrets
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_FILE = "secret_key"
# Django's deploy check wants at least 50 characters; token_urlsafe(50) makes 67.
_MIN_LENGTH = 50


def secret_key_load_or_create(var_dir: Path) -> str:
    """Return the key kept in `var_dir`, creating it (mode 0600) if there is none yet."""
    path = var_dir / SECRET_KEY_FILE
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    # O_EXCL and 0600 from the start: the key is never readable by others, not even
    # between its creation and a chmod.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(50) + "\n")
            out.flush()
            os.fsync(out.fileno())
        # Unlike a rename, a link never replaces a key other processes already use.
        with contextlib.suppress(FileExistsError):
            os.link(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _read(path: Path) -> str:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ImproperlyConfigured(
            f"{path} can be read by other users: `chmod 600` it (or delete it to get a "
            "new one), or set DJANGO_SECRET_KEY"
        )
    key = path.read_text().strip()
    if len(key) < _MIN_LENGTH:
        raise ImproperlyConfigured(
            f"{path} holds no usable secret key (under {_MIN_LENGTH} characters): delete "
            "it to get a new one, or set DJANGO_SECRET_KEY"
        )
    return key
