"""The toolkit's models: release state (toolkit.releases)."""

from toolkit.releases.models import ReleaseDecision, ReleaseFlag, ReleaseWindow

__all__ = ["ReleaseDecision", "ReleaseFlag", "ReleaseWindow"]
