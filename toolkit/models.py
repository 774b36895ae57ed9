from django.db import models


class Lease(models.Model):
    """Who runs the work `name` names, and until when (`toolkit.once.one_at_a_time`)."""

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=32, blank=True)
    held_until = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class LabSwitch(models.Model):
    """A failure-mode lab switch that has been turned on or off (`toolkit.lab`)."""

    mode = models.CharField(max_length=40, unique=True)
    on = models.BooleanField(default=False)
    changed_at = models.DateTimeField()
    changed_by = models.CharField(max_length=150)

    def __str__(self) -> str:
        return f"{self.mode}={'on' if self.on else 'off'}"


class LabChange(models.Model):
    """One change of a lab switch, by whom: the lab's decision log."""

    mode = models.CharField(max_length=40)
    on = models.BooleanField()
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.mode}={'on' if self.on else 'off'}"
