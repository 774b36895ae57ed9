"""Cache backends the profiles configure."""

from diskcache import DjangoCache


class PersistentDiskCache(DjangoCache):
    """diskcache's Django backend, keeping its SQLite connections between requests.

    Django closes every cache after each request. For diskcache that drops one SQLite
    connection per shard, and the next request reopens them (a handful of PRAGMAs each):
    on a warm cached page that reconnecting costs more than the page. The connections
    are per thread and safe to keep, as the database's are with CONN_MAX_AGE.
    """

    def close(self, **kwargs: object) -> None:
        """Keep the connections: see the class docstring."""
