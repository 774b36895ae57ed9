"""Local development extras (DJANGO_DEBUG=1): debug toolbar and nplusone raising."""

EXTRA_APPS = ["debug_toolbar", "nplusone.ext.django"]
EXTRA_MIDDLEWARE_FIRST = [
    "debug_toolbar.middleware.DebugToolbarMiddleware",
    "nplusone.ext.django.NPlusOneMiddleware",
]
NPLUSONE_RAISE = True
INTERNAL_IPS = ["127.0.0.1"]
