"""A cache backend whose server is down: every operation raises, as django-redis does
with IGNORE_EXCEPTIONS off when Redis refuses connections."""

from django.core.cache.backends.base import BaseCache


class CacheServerDown(ConnectionError):
    pass


class FailingCache(BaseCache):
    def __init__(self, location: str, params: dict) -> None:
        super().__init__(params)

    def _fail(self, *args: object, **kwargs: object) -> None:
        raise CacheServerDown("Connection refused")

    add = get = set = touch = delete = clear = incr = get_many = set_many = delete_many = _fail
    has_key = _fail
