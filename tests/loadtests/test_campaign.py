"""Campaign traffic: landing URLs carry utm_* and a click id of their own; stats do not."""

import random
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from loadtests.campaign import CLICK_NETWORKS, CampaignTraffic, campaign_for_shape
from tests.loadtests.locust_process import locust_python


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_only_the_campaign_shapes_bring_campaign_visitors():
    assert campaign_for_shape("campaign-spike") is not None
    assert campaign_for_shape("flash-sale") is not None
    assert campaign_for_shape("steady") is None
    assert campaign_for_shape("partial-outage") is None


def test_a_visit_lands_on_a_campaign_url_then_browses_plain_pages():
    # given a campaign visitor whose first request cannot open a visit (a search)
    traffic = CampaignTraffic("spring-newsletter", random.Random(3))
    assert traffic.url("/search/?q=tent", landing=False) == "/search/?q=tent"

    # when a landing page comes
    landing = traffic.url("/c/tents/", landing=True)

    # then it carries the campaign, the network that sent it, and one click id
    query = _query(landing)
    assert urlsplit(landing).path == "/c/tents/"
    assert query["utm_campaign"] == ["spring-newsletter"]
    [click_param] = set(query) & set(CLICK_NETWORKS)
    assert (query["utm_source"][0], query["utm_medium"][0]) == CLICK_NETWORKS[click_param]
    # and the rest of the visit is plain pages, until the next visit lands again
    pages = [traffic.url(f"/p/p{n}/", landing=True) for n in range(10)]
    plain = pages[: pages.index(next(p for p in pages if "?" in p))]
    assert all(page.startswith("/p/p") and "?" not in page for page in plain)
    assert len(plain) <= 4


def test_landing_urls_keep_an_existing_query():
    traffic = CampaignTraffic("flash-sale", random.Random(1))

    url = traffic.url("/c/tents/?sort=newest", landing=True)

    assert _query(url)["sort"] == ["newest"]
    assert _query(url)["utm_campaign"] == ["flash-sale"]


# Drives the real BrowseUser with a client that records each request (url, stats name).
# In a subprocess: importing Locust monkey-patches the interpreter with gevent.
_DRIVE_BROWSE_USER = """
import contextlib, json, random
from loadtests.users import BrowseUser

class Response:
    status_code, text, headers = 200, "", {}
    def __init__(self): self.request_meta = {"context": {}}
    def success(self): pass
    def failure(self, exc): raise AssertionError(exc)

class Client:
    def __init__(self): self.requests = []
    @contextlib.contextmanager
    def get(self, url, *, name, catch_response, headers=None):
        self.requests.append((url, name))
        yield Response()

user = BrowseUser.__new__(BrowseUser)
user.client = Client()
user.on_start()
tasks = [user.home, user.category, user.category_filtered, user.product, user.category_deep]
rng = random.Random(7)
for _ in range(400):
    rng.choice(tasks)()
print(json.dumps(user.client.requests))
"""


def _browse_requests(tmp_path: Path, shape: str) -> list[tuple[str, str]]:
    requests = locust_python(_DRIVE_BROWSE_USER, tmp_path, PEAKSTORE_LOAD_SHAPE=shape)
    return [tuple(request) for request in requests]


def test_campaign_landings_carry_a_unique_click_id_and_stats_names_no_query(tmp_path):
    # given a browsing user in the campaign-spike shape
    requests = _browse_requests(tmp_path, "campaign-spike")

    # then a good share of its pages are campaign landings on home, category or product
    landings = [(url, name) for url, name in requests if "utm_source" in url]
    assert len(landings) > len(requests) / 10
    assert {urlsplit(url).path.split("/")[1] for url, _ in landings} <= {"", "c", "p"}
    # each with a click id of one network, never seen before
    click_ids = []
    for url, _ in landings:
        query = _query(url)
        [click_param] = set(query) & set(CLICK_NETWORKS)
        click_ids.append(query[click_param][0])
    assert len(set(click_ids)) == len(landings)
    # and the stats name it under its page, as for every other request: no campaign query
    names = {name for _, name in requests}
    assert {name for _, name in landings} <= names
    assert not any("utm" in name or "clid" in name for name in names)
    assert names == {
        "[browse] /",
        "[browse] /c/[slug]/",
        "[browse] /c/[slug]/?filter",
        "[browse] /p/[slug]/",
        "[browse] /c/[slug]/?page=deep",
    }


def test_everyday_shapes_send_no_campaign_urls(tmp_path):
    requests = _browse_requests(tmp_path, "steady")

    assert requests
    assert not any("utm_" in url or "clid=" in url for url, _ in requests)
