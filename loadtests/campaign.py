"""Campaign traffic: visits that land from an ad or an e-mail, with the URLs they carry.

A visitor who clicks a campaign link lands on a home, category or product page whose URL
carries `utm_source`, `utm_medium`, `utm_campaign` and the ad network's click id
(`gclid`, `fbclid`, `msclkid`), a value unique to that click. Every landing URL is then
a URL the store has never seen: a cache keyed on the full URL would miss on every one of
them. So the campaign shapes (`CAMPAIGN_SHAPES`) send real campaign URLs, and the request
keeps the page's own name in Locust's stats, never the query string (one stats row per
page, not one per click).

No Locust import: the users call it, tests walk it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import urlencode

# Shape name -> `utm_campaign`: the shapes whose visitors arrive from a campaign.
CAMPAIGN_SHAPES = {"campaign-spike": "spring-newsletter", "flash-sale": "flash-sale"}
# Click id parameter -> (utm_source, utm_medium) of the network that adds it.
CLICK_NETWORKS = {
    "gclid": ("google", "cpc"),
    "fbclid": ("facebook", "paid_social"),
    "msclkid": ("bing", "cpc"),
}
# Pages a campaign visit opens, landing included: most bounce or look at a few pages.
VISIT_PAGES = (1, 5)


@dataclass(frozen=True)
class CampaignVisit:
    """One visitor's arrival: the campaign, the network that sent them, pages they open."""

    campaign: str
    click_param: str
    pages: int

    def landing_url(self, path: str, rng: random.Random) -> str:
        """`path` as the ad links it: campaign parameters and a click id of its own."""
        source, medium = CLICK_NETWORKS[self.click_param]
        query = urlencode(
            {
                "utm_source": source,
                "utm_medium": medium,
                "utm_campaign": self.campaign,
                self.click_param: click_id(rng),
            }
        )
        return f"{path}{'&' if '?' in path else '?'}{query}"


def click_id(rng: random.Random) -> str:
    """A fresh click id: 128 random bits, as opaque as the networks' own."""
    return f"{rng.getrandbits(128):032x}"


def campaign_visit(campaign: str, rng: random.Random) -> CampaignVisit:
    return CampaignVisit(
        campaign=campaign,
        click_param=rng.choice(tuple(CLICK_NETWORKS)),
        pages=rng.randint(*VISIT_PAGES),
    )


class CampaignTraffic:
    """Turns a user's page requests into campaign visits: a landing URL, then plain pages.

    A visit's first landing-capable page (home, category, product) carries the campaign
    URL; the next pages of the visit are plain; then the next visit begins.
    """

    def __init__(self, campaign: str, rng: random.Random) -> None:
        self.campaign = campaign
        self.rng = rng
        self.pages_left = 0

    def url(self, path: str, *, landing: bool) -> str:
        """The URL to request for `path`; `landing`: the page may open a visit."""
        if self.pages_left > 0:
            self.pages_left -= 1
            return path
        if not landing:
            return path
        visit = campaign_visit(self.campaign, self.rng)
        self.pages_left = visit.pages - 1
        return visit.landing_url(path, self.rng)


def campaign_for_shape(shape: str) -> str | None:
    """The `utm_campaign` a shape's visitors arrive with (None: organic traffic)."""
    return CAMPAIGN_SHAPES.get(shape)
