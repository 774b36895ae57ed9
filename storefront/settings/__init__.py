"""Settings entry point: the environment selects the profile (see environment.py)."""

from storefront.settings.environment import ENV

if ENV.profile == "services":
    from storefront.settings.services import *  # noqa: F403
else:
    from storefront.settings.embedded import *  # noqa: F403

if ENV.debug:
    from storefront.settings import local

    INSTALLED_APPS = [*INSTALLED_APPS, *local.EXTRA_APPS]  # noqa: F405
    MIDDLEWARE = [*local.EXTRA_MIDDLEWARE_FIRST, *MIDDLEWARE]  # noqa: F405
    NPLUSONE_RAISE = local.NPLUSONE_RAISE
    INTERNAL_IPS = local.INTERNAL_IPS
    # Pick up edited static files without a restart.
    WHITENOISE_AUTOREFRESH = True
