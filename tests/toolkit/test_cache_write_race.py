"""A value read from the system of record just before a write commits must not outlive
the write's bump: it is stored under the version looked up before the read, which the
bump has retired, never under the version of the moment it is stored.

Found by the failure-mode lab: with the good path (nothing switched on) the end-of-run
cache audit found a few `pricing.price` entries that disagreed with the database under
the current generation, after back-office price writes raced listing reads.
"""

import pytest

from tests.toolkit.caches import SOURCE


@pytest.fixture
def write(db, django_capture_on_commit_callbacks):
    """A write to record 1 of tests.source: the record changes, then its bump runs."""
    records = {1: "old"}

    def write() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            records[1] = "new"
            SOURCE.invalidate_on_commit([1])

    write.records = records
    return write


def test_a_batch_read_that_races_a_write_leaves_nothing_current_behind(write):
    def read_then_the_write_commits(missing):
        values = {key: write.records[key] for key in missing}  # read "old"
        write()  # commits and bumps before the reader stores
        return values

    assert SOURCE.get_many_or_compute([1], read_then_the_write_commits) == {1: "old"}

    # the next reader misses and reads the new record: "old" was stored under the
    # retired version
    assert SOURCE.get_many([1]) == {}
    assert SOURCE.get_many_or_compute([1], lambda missing: {1: write.records[1]}) == {1: "new"}


def test_values_stored_under_the_version_read_before_a_write_are_not_served(write):
    value, version = SOURCE.get_with_version(1)
    read = write.records[1]  # "old", read under `version`
    write()

    SOURCE.set_many({1: read}, version=version)

    assert value is None
    assert SOURCE.get_many([1]) == {}


def test_values_stored_under_the_current_version_are_served(write):
    _, version = SOURCE.get_with_version(1)

    SOURCE.set_many({1: write.records[1]}, version=version)

    assert SOURCE.get_many([1]) == {1: "old"}
    assert SOURCE.get_with_version(1) == ("old", version)
