from django.db import models


class Lease(models.Model):
    """Who runs the work `name` names, and until when (`toolkit.once.one_at_a_time`)."""

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=32, blank=True)
    held_until = models.DateTimeField()

    def __str__(self) -> str:
        return self.name
