"""The published bucketing algorithm: stable (test vectors), uniform enough, monotonic."""

import itertools
import json
from pathlib import Path

import releases
from releases.hashing import subject_bucket, subject_exposed

VECTORS = Path(releases.__file__).parent / "test_vectors.json"


def test_the_published_vectors_hold():
    vectors = json.loads(VECTORS.read_text())["vectors"]

    for vector in vectors:
        bucket = subject_bucket(salt=vector["salt"], flag=vector["flag"], subject=vector["subject"])
        assert bucket == vector["bucket"], vector
        assert bucket == int(vector["sha256_first8"], 16) % 10_000
    assert len(vectors) >= 8


def test_buckets_cover_the_range_evenly():
    buckets = [subject_bucket(salt="s", flag="f", subject=f"user:{i}") for i in range(20_000)]

    assert min(buckets) >= 0
    assert max(buckets) < 10_000
    share_at_5_percent = sum(bucket < 500 for bucket in buckets) / len(buckets)
    assert 0.04 < share_at_5_percent < 0.06


def test_raising_exposure_keeps_everyone_already_in():
    subjects = [f"visitor:{i}" for i in range(2_000)]
    steps = (100, 500, 2_500, 5_000, 10_000)

    exposed = [
        {s for s in subjects if subject_exposed(salt="x", flag="f", subject=s, exposure_bp=bp)}
        for bp in steps
    ]

    for smaller, larger in itertools.pairwise(exposed):
        assert smaller <= larger
    assert exposed[-1] == set(subjects)
    assert not any(subject_exposed(salt="x", flag="f", subject=s, exposure_bp=0) for s in subjects)


def test_the_salt_makes_flags_independent():
    in_a = {i for i in range(5_000) if subject_bucket(salt="a", flag="f", subject=str(i)) < 1_000}
    in_b = {i for i in range(5_000) if subject_bucket(salt="b", flag="f", subject=str(i)) < 1_000}

    overlap = len(in_a & in_b) / len(in_a)
    assert overlap < 0.2  # independent 10% slices overlap by about 10%, not 100%
