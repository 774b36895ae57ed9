import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from toolkit.models import Lease
from toolkit.once import created_once, one_at_a_time


def test_racing_threads_run_the_factory_once():
    calls = []
    gate = threading.Barrier(16)

    @created_once
    def make():
        calls.append(1)
        time.sleep(0.05)  # wide enough that unguarded callers would all get in
        return object()

    results = []

    def first_call():
        gate.wait()
        results.append(make())

    threads = [threading.Thread(target=first_call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(calls) == 1
    assert len({id(result) for result in results}) == 1


@pytest.mark.django_db
def test_one_holder_at_a_time_and_the_lease_frees_when_the_block_ends():
    ttl = timedelta(minutes=1)
    with (
        one_at_a_time("sweep", ttl=ttl) as first,
        one_at_a_time("sweep", ttl=ttl) as second,
        one_at_a_time("other", ttl=ttl) as other,
    ):
        assert (first, second, other) == (True, False, True)
    with one_at_a_time("sweep", ttl=ttl) as after:
        assert after


@pytest.mark.django_db
def test_a_lease_whose_holder_died_frees_after_its_ttl():
    with one_at_a_time("reconcile", ttl=timedelta(minutes=5)) as held:
        assert held
        # the holder dies here: its lease stays, as a killed process would leave it
        Lease.objects.filter(name="reconcile").update(holder="dead")
    with one_at_a_time("reconcile", ttl=timedelta(minutes=5)) as while_held:
        assert not while_held

    Lease.objects.filter(name="reconcile").update(held_until=timezone.now() - timedelta(seconds=1))

    with one_at_a_time("reconcile", ttl=timedelta(minutes=5)) as after_ttl:
        assert after_ttl
