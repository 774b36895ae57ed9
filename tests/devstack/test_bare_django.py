"""The bare Django project answers every path with its constant, and nothing else runs."""

import json
import subprocess
import sys

from storefront.settings.environment import BASE_DIR

# Importing the project configures Django, which this test process already did: the
# project is called in a fresh interpreter, as gunicorn would load it.
CALL = """
import json, wsgiref.util
from django.conf import settings
from devstack.bare_django import application

environ = {"PATH_INFO": "/c/outdoor/", "QUERY_STRING": "utm_source=x&gclid=1"}
wsgiref.util.setup_testing_defaults(environ)
started = []
body = b"".join(application(environ, lambda status, headers: started.append(status)))
print(json.dumps({
    "status": started[0], "body": body.decode(),
    "middleware": settings.MIDDLEWARE, "apps": settings.INSTALLED_APPS,
}))
"""


def test_any_path_is_answered_with_the_constant_without_middleware_or_apps():
    done = subprocess.run(
        [sys.executable, "-c", CALL], cwd=BASE_DIR, capture_output=True, text=True, check=True
    )

    answer = json.loads(done.stdout)
    assert answer == {"status": "200 OK", "body": "ok\n", "middleware": [], "apps": []}
