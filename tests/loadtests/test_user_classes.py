"""The Locust users as the runner starts them: every class a shape names exists, and the
search API user scrolls by following `next`.

In subprocesses: importing Locust monkey-patches the interpreter with gevent.
"""

from urllib.parse import parse_qs, urlsplit

from tests.loadtests.locust_process import locust_python

_SHAPES_USE_KNOWN_CLASSES = """
import json
from loadtests.locustfile import USER_CLASSES
from loadtests.shapes import SHAPES, plan_for

named = {
    name
    for shape in SHAPES
    for phase in plan_for(shape, users=20, duration_s=300).phases
    for name in phase.user_classes
}
print(json.dumps({"named": sorted(named), "known": sorted(USER_CLASSES)}))
"""

# The real ApiSearchUser with a client that answers three pages, then no `next`.
_DRIVE_API_SEARCH_USER = """
import contextlib, json
from loadtests.users import ApiSearchUser

class Response:
    status_code, text, headers = 200, "", {}
    def __init__(self, next_url): self.next_url, self.request_meta = next_url, {"context": {}}
    def success(self): pass
    def failure(self, exc): raise AssertionError(exc)
    def json(self): return {"next": self.next_url}

class Client:
    def __init__(self): self.requests = []
    @contextlib.contextmanager
    def get(self, url, *, name, catch_response, headers=None):
        self.requests.append((url, name))
        page = sum(1 for u, _ in self.requests if "cursor=" in u)
        yield Response(f"/api/v1/search/?cursor=c{page + 1}" if page < 2 else None)

user = ApiSearchUser.__new__(ApiSearchUser)
user.client = Client()
user.on_start()
visits = []
for _ in range(200):
    user.client.requests = []
    user.search()
    visits.append(user.client.requests)
print(json.dumps(visits))
"""


def test_every_user_class_a_shape_names_is_one_the_locustfile_runs(tmp_path):
    classes = locust_python(_SHAPES_USE_KNOWN_CLASSES, tmp_path)

    assert set(classes["named"]) <= set(classes["known"])
    assert "ApiSearchUser" in classes["named"]


def test_the_search_api_user_scrolls_by_following_next_and_stops_at_the_end(tmp_path):
    visits = locust_python(_DRIVE_API_SEARCH_USER, tmp_path)

    for requests in visits:
        first = parse_qs(urlsplit(requests[0][0]).query)
        assert first["in_stock"] == ["true"]
        assert ("q" in first) != ("category" in first)  # a word typed, or a category opened
        # then the `next` links as given, never past the last page (the third)
        assert [url for url, _ in requests[1:]] == [
            f"/api/v1/search/?cursor=c{page}" for page in range(1, len(requests))
        ]
        assert 1 <= len(requests) <= 3
        assert {name for _, name in requests} == {"[search] /api/v1/search/"}
    assert {len(requests) for requests in visits} == {1, 2, 3}
