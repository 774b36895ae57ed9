"""Settings read on every request, without Django's cost per read.

Each `django.conf.settings.NAME` runs `LazyObject.__getattribute__` in Python, and that
asks the value for a `_mask_wrapped` attribute: on a string, a number or a boolean the
lookup fails, formatting an AttributeError that nobody sees. About 3,400 instructions a
read (`valgrind --tool=callgrind`); a warm page hit read eight settings that way, 4% of
its cost. `setting(name)` keeps each value after its first read, until a test changes
that setting (`override_settings` and pytest-django's `settings` send
`setting_changed`). Code that runs once (a middleware's `__init__`, a command) reads
`django.conf.settings` as usual.
"""

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_MISSING = object()
_values: dict[str, Any] = {}


def setting(name: str, default: Any = _MISSING) -> Any:
    """`settings.<name>` (or `default` when unset), read once and kept."""
    value = _values.get(name, _MISSING)
    if value is _MISSING:
        value = getattr(settings, name) if default is _MISSING else getattr(settings, name, default)
        _values[name] = value
    return value


@receiver(setting_changed)
def _forget(*, setting: str, **_: object) -> None:
    _values.pop(setting, None)
