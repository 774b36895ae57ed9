"""After-commit change notifications: owners declare topics, subscribers get the ids."""

import pytest

from toolkit import changes


def test_a_topic_name_keeps_one_meaning():
    things = changes.topic_declare("tests.things", ids="thing ids")

    assert changes.topic_declare("tests.things", ids="thing ids") == things
    with pytest.raises(ValueError, match="declared differently"):
        changes.topic_declare("tests.things", ids="other ids")


def test_subscribers_get_the_ids_only_once_the_write_commits(
    db, django_capture_on_commit_callbacks
):
    topic = changes.topic_declare("tests.widgets", ids="widget ids")
    received = []
    changes.subscribe(topic, received.append)

    with django_capture_on_commit_callbacks() as callbacks:
        changes.publish(topic, [3, 1, 3])
    assert received == []

    for callback in callbacks:
        callback()
    assert received == [frozenset({1, 3})]
    assert changes.subscribers()["tests.widgets"] == (received.append,)
