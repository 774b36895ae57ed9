import threading
import time

from toolkit.once import created_once


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
