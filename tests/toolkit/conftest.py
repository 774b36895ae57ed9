import pytest


@pytest.fixture
def invalidate(db, django_capture_on_commit_callbacks):
    """Invalidate `keys` of a test namespace as its owner does, bumped as after a commit."""

    def invalidate(cache, keys=None) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            cache.invalidate_on_commit(keys)

    return invalidate
