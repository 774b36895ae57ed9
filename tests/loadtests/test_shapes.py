"""Load shapes: the tick sequence Locust follows, second by second."""

import pytest

from integrations.simulator.presets import PRESETS
from loadtests.scenarios import SPIKE_SIZED_AT_CALIBRATION_RPS, scenario_get
from loadtests.shapes import FLASH_MIX, SHAPES, LoadPlan, Phase, plan_for


def _ticks(plan: LoadPlan) -> list:
    """What Locust's shape worker sees, once a second, until the plan says stop."""
    ticks, t = [], 0
    while (tick := plan.tick_at(t)) is not None:
        ticks.append(tick)
        t += 1
    return ticks


def test_campaign_spike_goes_from_baseline_to_ten_times_within_a_minute_and_back():
    # given a spike peaking at 60 users over 300 s
    plan = plan_for("campaign-spike", users=60, duration_s=300)
    ticks = _ticks(plan)

    # then it runs 300 ticks through its phases in order
    assert len(ticks) == 300
    phases = list(dict.fromkeys(tick.phase.name for tick in ticks))
    assert phases == ["baseline", "ramp", "spike", "decay", "recovery"]
    users = [tick.users for tick in ticks]
    baseline = [t.users for t in ticks if t.phase.name == "baseline"]
    ramp = [t.users for t in ticks if t.phase.name == "ramp"]
    spike = [t.users for t in ticks if t.phase.name == "spike"]
    # a baseline of a tenth of the peak, 10x within a minute, sustained, then back down
    assert set(baseline) == {6}
    assert len(ramp) <= 60
    assert ramp == sorted(ramp)
    assert set(spike) == {60}
    assert users[-1] == 6
    assert max(users) == 60


def test_ramp_spawn_rate_keeps_up_with_the_ramp():
    plan = plan_for("campaign-spike", users=60, duration_s=300)

    for earlier, later in zip(_ticks(plan), _ticks(plan)[1:], strict=False):
        # Locust blocks on a change until it is made: each change must fit in a second.
        assert abs(later.users - earlier.users) <= later.spawn_rate


def test_flash_sale_adds_the_crowd_only_while_the_sale_is_live():
    plan = plan_for("flash-sale", users=40, duration_s=100)
    ticks = _ticks(plan)

    live = [tick for tick in ticks if tick.phase.name == "sale-live"]
    before = [tick for tick in ticks if tick.phase.name == "before-sale"]
    after = [tick for tick in ticks if tick.phase.name == "after-sale"]

    assert before
    assert after
    assert all("FlashSaleUser" in tick.user_classes for tick in live)
    assert live[0].user_classes == FLASH_MIX
    assert not any("FlashSaleUser" in tick.user_classes for tick in before + after)
    assert {tick.users for tick in live} == {40}
    assert {tick.users for tick in before} == {10}


def test_partial_outage_switches_fault_presets_during_the_spike():
    plan = plan_for("partial-outage", users=60, duration_s=300)

    switches = [(w.name, w.faults) for w in plan.windows() if w.faults is not None]

    assert switches == [
        ("baseline", "healthy"),
        ("outage", "partial-outage"),
        ("spike-recovered", "healthy"),
    ]
    outage = next(w for w in plan.windows() if w.name == "outage")
    assert outage.users == plan.peak_users


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_fault_preset_a_shape_switches_to_is_one_the_simulator_knows(shape):
    plan = plan_for(shape, users=60, duration_s=300)

    named = {window.faults for window in plan.windows() if window.faults is not None}

    assert named <= set(PRESETS)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize(("users", "duration_s"), [(1, 10), (10, 40), (60, 300), (20, 600)])
def test_every_shape_lasts_its_duration_and_peaks_at_its_users(shape, users, duration_s):
    plan = plan_for(shape, users=users, duration_s=duration_s)

    assert plan.duration_s == duration_s
    assert plan.peak_users == users
    assert len(_ticks(plan)) == duration_s
    assert plan.tick_at(duration_s) is None
    windows = plan.windows()
    assert windows[0].start_s == 0
    assert windows[-1].end_s == duration_s


def test_a_plan_refuses_nonsense():
    with pytest.raises(ValueError, match="at least one phase"):
        LoadPlan("empty", ())
    with pytest.raises(ValueError, match="positive duration"):
        LoadPlan("bad", (Phase("zero", 0, 5),))
    with pytest.raises(ValueError, match="needs more than 3 s"):
        plan_for("campaign-spike", users=10, duration_s=3)
    with pytest.raises(KeyError, match="known shapes"):
        plan_for("tsunami", users=5, duration_s=10)


def test_the_spike_is_cut_to_a_slower_machine_in_proportion_and_never_raised():
    spike = scenario_get("campaign-spike")
    sized_at = spike.sized_at_calibration_rps

    half = spike.sized_for(sized_at / 2)
    faster = spike.sized_for(sized_at * 1.5)
    unknown = spike.sized_for(None)

    assert half.users == spike.users // 2
    # to the ten below: a whole tenth as the baseline, never above the machine's share
    assert spike.sized_for(sized_at * 0.47).users == 20
    assert spike.sized_for(sized_at * 0.999).users == 50
    assert spike.sized_for(1.0).users == 10
    assert half.phase_start_s("spike") == spike.phase_start_s("spike")
    assert faster.users == unknown.users == spike.users


@pytest.mark.parametrize("name", ["campaign-spike", "partial-outage", "deploy-during-spike"])
def test_every_spike_is_sized_on_the_same_machine(name):
    assert scenario_get(name).sized_at_calibration_rps == SPIKE_SIZED_AT_CALIBRATION_RPS


def test_a_scenario_without_a_sizing_machine_keeps_its_peak_everywhere():
    smoke = scenario_get("smoke")

    assert smoke.sized_for(10.0).users == smoke.users
