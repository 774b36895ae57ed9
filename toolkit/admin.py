"""The toolkit's admin: releases (toolkit.releases.admin)."""

from toolkit.releases import admin  # noqa: F401  (registers the release models)
