"""PEAKSTORE_LOAD_SEED: two runs of a seeded scenario draw the same choices, user by user."""

import itertools

from loadtests import assignment as users


def draws(monkeypatch, seed: str | None) -> list[list[float]]:
    """What the first three users of a fresh Locust process draw first."""
    monkeypatch.setattr(users, "_user_numbers", itertools.count())
    if seed is None:
        monkeypatch.delenv(users.SEED_ENV, raising=False)
    else:
        monkeypatch.setenv(users.SEED_ENV, seed)
    return [[rng.random() for _ in range(3)] for rng in (users.user_rng() for _ in range(3))]


def test_a_seeded_run_repeats_every_users_choices(monkeypatch):
    first, second = draws(monkeypatch, "15"), draws(monkeypatch, "15")

    assert first == second
    assert len({tuple(user) for user in first}) == 3  # each user its own sequence
    assert draws(monkeypatch, "16") != first


def test_without_a_seed_each_run_draws_afresh(monkeypatch):
    assert draws(monkeypatch, None) != draws(monkeypatch, None)
