"""After-commit change notifications: owners declare topics, subscribers get the ids."""

import os
import threading
import time

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


# Coalesced deliveries: a window's ids reach the handler once


@pytest.fixture
def coalesced_topic(request):
    """A fresh topic per test (the registry is process-wide)."""
    return changes.topic_declare(f"tests.coalesced.{request.node.name}", ids="ids")


@pytest.fixture
def commit(db, django_capture_on_commit_callbacks):
    """Publish each batch of ids in a transaction of its own, committed."""

    def published(topic, *batches):
        for ids in batches:
            with django_capture_on_commit_callbacks(execute=True):
                changes.publish(topic, ids)

    return published


def test_the_commits_within_a_window_reach_a_coalesced_handler_once(coalesced_topic, commit):
    received = []
    delivered = threading.Event()

    def handler(ids):
        received.append(ids)
        delivered.set()

    changes.subscribe(coalesced_topic, handler, coalesce_s=0.2)
    commit(coalesced_topic, {1, 2}, {2, 3}, {7})
    assert received == []  # the window is still open

    assert delivered.wait(5)
    time.sleep(0.3)  # a second delivery would come by now
    assert received == [frozenset({1, 2, 3, 7})]


def test_one_handler_on_two_topics_gets_one_delivery_per_window(request, commit):
    prices = changes.topic_declare(f"tests.prices.{request.node.name}", ids="ids")
    stock = changes.topic_declare(f"tests.stock.{request.node.name}", ids="ids")
    received = []
    changes.subscribe(prices, received.append, coalesce_s=60)
    changes.subscribe(stock, received.append, coalesce_s=60)

    commit(prices, {1})
    commit(stock, {2})
    changes.flush()

    assert received == [frozenset({1, 2})]
    assert changes.subscribers()[prices.name] == (received.append,)


def test_flush_delivers_at_once_and_the_window_then_starts_afresh(coalesced_topic, commit):
    received = []
    changes.subscribe(coalesced_topic, received.append, coalesce_s=0.2)

    commit(coalesced_topic, {1})
    changes.flush()
    assert received == [frozenset({1})]
    time.sleep(0.3)  # the cancelled timer delivers nothing more
    assert received == [frozenset({1})]

    commit(coalesced_topic, {4})
    changes.flush()
    assert received == [frozenset({1}), frozenset({4})]


def test_a_failing_coalesced_handler_is_logged_and_the_next_window_still_delivers(
    coalesced_topic, caplog, commit
):
    calls = []

    def handler(ids):
        calls.append(ids)
        if len(calls) == 1:
            raise RuntimeError("broker down")

    changes.subscribe(coalesced_topic, handler, coalesce_s=60)
    commit(coalesced_topic, {1})
    changes.flush()
    commit(coalesced_topic, {2})
    changes.flush()

    assert calls == [frozenset({1}), frozenset({2})]
    assert "broker down" in caplog.text


def test_a_forked_child_does_not_deliver_its_parents_pending_ids(
    coalesced_topic, monkeypatch, commit
):
    received = []
    changes.subscribe(coalesced_topic, received.append, coalesce_s=60)
    commit(coalesced_topic, {1})  # pending in the "parent"

    parent = os.getpid()
    monkeypatch.setattr(changes.os, "getpid", lambda: parent + 1)  # now in a "child"
    commit(coalesced_topic, {2})
    changes.flush()

    assert received == [frozenset({2})]


def test_a_handler_is_coalesced_over_one_window_only(request):
    first = changes.topic_declare(f"tests.one.{request.node.name}", ids="ids")
    second = changes.topic_declare(f"tests.two.{request.node.name}", ids="ids")
    received = []
    changes.subscribe(first, received.append, coalesce_s=1.0)

    with pytest.raises(ValueError, match=r"already coalesced over 1\.0 s"):
        changes.subscribe(second, received.append, coalesce_s=2.0)


def test_the_timer_thread_closes_the_connections_its_delivery_opened(
    coalesced_topic, monkeypatch, commit
):
    closed_on = []
    delivered = threading.Event()

    class Connections:
        def close_all(self):
            closed_on.append(threading.current_thread().name)
            delivered.set()

    monkeypatch.setattr(changes, "connections", Connections())
    changes.subscribe(coalesced_topic, lambda ids: None, coalesce_s=0.05)
    commit(coalesced_topic, {1})

    assert delivered.wait(5)
    changes.flush()  # from the test's thread: nothing pending, nothing of its own closed
    assert closed_on == [closed_on[0]]
    assert closed_on[0] != threading.current_thread().name
