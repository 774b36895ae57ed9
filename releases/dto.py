"""Plain records releases hands to other apps."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DeployStepRecord:
    """One step of a deploy as /ops/ shows it."""

    deploy: str
    step: str
    ok: bool
    started_at: datetime
    finished_at: datetime
    detail: str

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
