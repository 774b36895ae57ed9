"""Which subjects a flag exposes: a published, stable hash of subject to basis point.

    bucket = int(sha256(f"{salt}:{flag}:{subject}").hexdigest()[:8], 16) % 10000

A subject is in the exposure iff `bucket < exposure_bp` (0..10000 basis points). The
bucket never depends on the exposure, so raising it keeps everyone already in and only
adds subjects; lowering it (a stop) takes the newest out first. The salt is per flag, so
one visitor's buckets for two flags are independent (the same 1% do not get every
experiment). Any language can reproduce it; `releases/test_vectors.json` holds
worked examples and a test keeps them true.
"""

import hashlib

BASIS_POINTS = 10_000  # 100.00%


def subject_bucket(*, salt: str, flag: str, subject: str) -> int:
    """Return the subject's bucket for the flag: an int in [0, 10000)."""
    digest = hashlib.sha256(f"{salt}:{flag}:{subject}".encode()).hexdigest()
    return int(digest[:8], 16) % BASIS_POINTS


def subject_exposed(*, salt: str, flag: str, subject: str, exposure_bp: int) -> bool:
    """Return whether the subject is in an exposure of `exposure_bp` basis points."""
    return subject_bucket(salt=salt, flag=flag, subject=subject) < exposure_bp
