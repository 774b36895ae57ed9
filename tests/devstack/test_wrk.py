"""Reading wrk's result line, and the command line of one measurement."""

import pytest

from devstack.wrk import SCRIPT, WrkError, wrk_argv, wrk_result_parse

COUNTS = (
    '{"good": 9000, "shed": 10, "other": 2, "socket_errors": 1, '
    '"duration_us": 3000500, "p99_us": 12500}'
)
OUTPUT = f"""Running 3s test @ http://127.0.0.1:8500/c/outdoor/
  2 threads and 16 connections
  9012 requests in 3.00s, 123.45MB read
peakstore-bench {COUNTS}
Requests/sec:   3003.00
"""


def test_the_result_line_is_read_into_counts_seconds_and_milliseconds():
    result = wrk_result_parse(OUTPUT)

    assert (result.good, result.shed, result.other, result.socket_errors) == (9000, 10, 2, 1)
    assert result.answered == 9012
    assert result.duration_s == pytest.approx(3.0005)
    assert result.p99_ms == pytest.approx(12.5)
    assert result.good_per_s == pytest.approx(9000 / 3.0005)


def test_output_without_a_result_line_is_an_error():
    with pytest.raises(WrkError, match="no result line"):
        wrk_result_parse("Running 3s test @ http://127.0.0.1:8500/\n")


def test_a_measurement_is_two_threads_bounded_in_time_running_the_script():
    argv = wrk_argv(
        url="http://127.0.0.1:8500/p/tent/", connections=64, duration_s=3, click=True, nonce="n1"
    )

    assert argv[:4] == ["wrk", "-t2", "-c64", "-d3s"]
    assert f"--script={SCRIPT}" in argv
    assert argv[-3:] == ["--", "click", "n1"]
    assert SCRIPT.exists()
