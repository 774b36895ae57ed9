"""One percentile definition (nearest rank) and PromQL's quantile of cumulative buckets."""

import pytest

from perfstats.quantiles import bucket_delta, histogram_quantile, percentile, percentiles


def test_a_percentile_is_the_smallest_sample_that_share_of_samples_do_not_exceed():
    samples = [float(ms) for ms in range(100, 0, -1)]  # 1..100, unsorted

    assert percentile(samples, 0.50) == 50
    assert percentile(samples, 0.95) == 95
    assert percentile(samples, 0.99) == 99
    assert percentile(samples, 1.00) == 100


def test_a_percentile_is_always_an_observed_sample():
    samples = [10.0, 20.0, 30.0, 40.0]

    # linear interpolation would answer 38.5 for the p95: no request took that long
    assert percentile(samples, 0.95) == 40.0
    assert percentile(samples, 0.50) == 20.0
    assert percentile([7.0], 0.99) == 7.0


def test_a_share_times_the_count_that_floating_point_rounds_up_keeps_its_rank():
    samples = [float(ms) for ms in range(1, 101)]

    # 0.07 * 100 == 7.000000000000001: the p7 is still the 7th sample, not the 8th
    assert percentile(samples, 0.07) == 7.0
    assert percentile(samples, 0.29) == 29.0


def test_percentiles_sorts_once_for_several_shares_and_answers_zero_without_samples():
    assert percentiles([3.0, 1.0, 2.0], 0.5, 1.0) == (2.0, 3.0)
    assert percentiles([], 0.5, 0.95) == (0.0, 0.0)


def test_histogram_quantile_interpolates_within_the_bucket_like_promql():
    buckets = [(0.1, 50.0), (0.2, 100.0), (float("inf"), 100.0)]

    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.19)


def test_histogram_quantile_in_the_inf_bucket_answers_the_highest_finite_bound():
    buckets = [(0.1, 10.0), (0.5, 90.0), (float("inf"), 100.0)]

    assert histogram_quantile(0.99, buckets) == 0.5


def test_histogram_quantile_without_observations_is_none():
    assert histogram_quantile(0.5, [(0.1, 0.0), (float("inf"), 0.0)]) is None
    assert histogram_quantile(0.5, []) is None


def test_bucket_delta_is_what_was_observed_between_two_readings():
    before = [(0.1, 100.0), (float("inf"), 100.0)]
    now = [(0.1, 100.0), (float("inf"), 110.0)]

    assert bucket_delta(now, before) == [(0.1, 0.0), (float("inf"), 10.0)]
    assert bucket_delta(now, None) == now


def test_bucket_delta_after_a_restart_counts_from_zero():
    before = [(0.1, 100.0), (float("inf"), 100.0)]
    restarted = [(0.1, 3.0), (float("inf"), 4.0)]

    assert bucket_delta(restarted, before) == restarted
