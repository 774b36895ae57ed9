from django.db import models


class Run(models.Model):
    """One reconciliation run of one routine, with what it found and did."""

    class Status(models.TextChoices):
        RUNNING = "running"
        FINISHED = "finished"
        SKIPPED = "skipped", "skipped: another run of the routine was going"
        FAILED = "failed", "failed: the system of record did not answer"

    routine = models.CharField(max_length=16)  # inventory, prices, payments, orders, search
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    dry_run = models.BooleanField(default=False)
    complete = models.BooleanField(default=False)  # compared everything (no --since)
    compared = models.PositiveIntegerField(default=0)
    differences = models.PositiveIntegerField(default=0)
    repaired = models.PositiveIntegerField(default=0)
    exceptions_opened = models.PositiveIntegerField(default=0)
    exceptions_seen_again = models.PositiveIntegerField(default=0)
    auto_resolved = models.PositiveIntegerField(default=0)
    # Differences by classification: {"mismatch": 3, "missing": 1, ...}.
    by_classification = models.JSONField(default=dict)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["routine", "-started_at"], name="recon_run_routine_idx")]

    def __str__(self) -> str:
        return f"{self.routine} run {self.pk} ({self.status})"


class DataException(models.Model):
    """A difference with a system of record that no policy repaired: a person decides.

    One row per problem, found by its fingerprint (kind and entity): seeing it again
    updates the row (evidence, last seen, count), never adds one.
    """

    class State(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"
        IGNORED = "ignored"

    kind = models.CharField(max_length=40)
    entity = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64, unique=True)
    evidence = models.JSONField(default=dict)
    owner = models.CharField(max_length=40)
    runbook = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    reason = models.CharField(max_length=500, blank=True)
    # A change to a gate criterion or alert threshold someone proposes on resolving.
    proposed_change = models.CharField(max_length=500, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()
    seen_count = models.PositiveIntegerField(default=1)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "kind"], name="recon_exception_state_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.entity} ({self.state})"


class ExceptionAction(models.Model):
    """Append-only: who did what to an exception, and why."""

    exception = models.ForeignKey(DataException, related_name="actions", on_delete=models.CASCADE)
    action = models.CharField(max_length=20)  # opened, seen, acknowledged, resolved, ...
    actor = models.CharField(max_length=150)  # a username, or "reconcile <routine>"
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["at"], name="recon_action_at_idx")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"
