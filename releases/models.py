"""Release state and its audit trail. Definitions live in code (`spec.py`); this is data.

Writes go through `releases.services` only: each one records a decision and, on commit,
republishes the flag snapshot the request path reads from the cache.

The tables keep the names they were created with when these models belonged to the
toolkit app (`toolkit_release*`): moving the models moved no data (migration 0001).
"""

from django.db import models


class ReleaseStatus(models.TextChoices):
    DRAFT = "draft", "draft (never started)"
    RUNNING = "running", "running (the gate may advance or stop it)"
    HELD = "held", "held for a person (the gate may still stop it)"
    STOPPED = "stopped", "stopped (0%)"
    COMPLETE = "complete", "complete (100%)"


class ReleaseFlag(models.Model):
    """The live state of one declared flag: status, step, exposure, gate progress."""

    name = models.SlugField(max_length=80, unique=True)
    status = models.CharField(
        max_length=10, choices=ReleaseStatus.choices, default=ReleaseStatus.DRAFT
    )
    step_index = models.IntegerField(default=-1)  # -1: no step yet
    exposure_bp = models.PositiveIntegerField(default=0)  # basis points exposed now
    step_started_at = models.DateTimeField(null=True, blank=True)
    # Gate progress (gates.StepProgress) and the open interval's starting totals.
    step_samples = models.PositiveIntegerField(default=0)
    consecutive_passes = models.PositiveIntegerField(default=0)
    consecutive_inconclusive = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    interval_started_at = models.DateTimeField(null=True, blank=True)
    interval_baseline = models.JSONField(default=dict, blank=True)
    # The last judged intervals (newest last), for the dashboard and the audit snapshot.
    recent_intervals = models.JSONField(default=list, blank=True)
    frozen_noted = models.BooleanField(default=False)  # a FROZEN decision is recorded
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "toolkit_releaseflag"
        ordering = ["name"]
        permissions = [
            ("start_releaseflag", "Can start a release exposure"),
            ("advance_releaseflag", "Can advance a release to its next step"),
            ("hold_releaseflag", "Can hold a release at its step"),
            ("stop_releaseflag", "Can stop a release (exposure back to 0%)"),
            ("resume_releaseflag", "Can resume a held or stopped release"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status}, {self.exposure_bp / 100:g}%)"


class ReleaseDecision(models.Model):
    """One decision about a flag, by a person or by the gate, with its evidence."""

    flag = models.ForeignKey(ReleaseFlag, on_delete=models.CASCADE, related_name="decisions")
    at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=10)  # start, advance, hold, stop, resume, ...
    actor = models.CharField(max_length=150)  # a username, or "gate"
    automatic = models.BooleanField(default=False)
    status_before = models.CharField(max_length=10)
    status_after = models.CharField(max_length=10)
    step_index = models.IntegerField()  # the step after the decision
    exposure_before_bp = models.PositiveIntegerField()
    exposure_after_bp = models.PositiveIntegerField()
    reason = models.TextField(blank=True)
    criteria = models.JSONField(default=dict)  # the criteria in force, campaign or not
    metrics = models.JSONField(default=dict)  # recent intervals, exit criteria status

    class Meta:
        db_table = "toolkit_releasedecision"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.flag.name}: {self.action} by {self.actor} at {self.at:%Y-%m-%d %H:%M:%S}"


class ReleaseWindowKind(models.TextChoices):
    CAMPAIGN = "campaign", "campaign (stricter gate criteria)"
    FREEZE = "freeze", "freeze (no automatic advance)"


class ReleaseWindow(models.Model):
    """A declared period: a campaign tightens every gate, a freeze stops auto-advance."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=ReleaseWindowKind.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        db_table = "toolkit_releasewindow"
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="release_window_ends_after_it_starts",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


class DeployStep(models.Model):
    """One step of a deploy (`manage.py deploy`): migrations, caches, reloads; its marker.

    A deploy changes the code every visitor gets at once, so /ops/ and the load-test
    reports show its steps beside the latency they may have moved.
    """

    deploy = models.CharField(max_length=32, db_index=True)  # one id for all its steps
    step = models.CharField(max_length=20)  # expand, caches, web, worker, beat
    ok = models.BooleanField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"deploy {self.deploy}: {self.step} {'ok' if self.ok else 'failed'}"
