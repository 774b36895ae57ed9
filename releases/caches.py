"""Release state in the cache server (`python manage.py cache_registry`)."""

from toolkit.cache import StateSpec, declare_state

RELEASES_PREFIX = "releases:"

declare_state(
    StateSpec(
        prefix=RELEASES_PREFIX,
        owner="releases",
        entity="release flags: a snapshot of every flag's state under its generation, "
        "read on each request (releases.state)",
        expiry="a week after the last flag write; the database is the system of record",
    )
)
