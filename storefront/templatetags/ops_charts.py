"""Template tags for the ops dashboard's server-rendered SVG charts (`perfstats.charts`)."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from perfstats import charts

register = template.Library()

NO_VALUE = "\N{EN DASH}"  # shown where there is nothing to measure yet


# mark_safe is sound here: perfstats.charts escapes every piece of text it draws.


@register.simple_tag
def sparkline(values: list, threshold: float | None = None) -> SafeString:
    return mark_safe(charts.sparkline(values, threshold=threshold))


@register.simple_tag
def ratio_bar(fraction: float | None, warn: float = 0.01, bad: float = 0.05) -> SafeString:
    """A bar for a bad-thing ratio (errors, failures): red as it grows."""
    color = charts.status_color(fraction, warn=warn, bad=bad)
    return mark_safe(charts.bar(fraction, color=color))


@register.simple_tag
def good_bar(fraction: float | None) -> SafeString:
    """A bar for a good-thing ratio (cache hits, completion): red as it shrinks."""
    shortfall = None if fraction is None else 1 - fraction
    color = charts.status_color(shortfall, warn=0.2, bad=0.5)
    return mark_safe(charts.bar(fraction, color=color))


@register.simple_tag
def count_bar(value: float, maximum: float) -> SafeString:
    return mark_safe(charts.bar(value / maximum if maximum else 0.0))


@register.filter
def percent(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value * 100:.1f}%"


@register.filter
def ms(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


@register.filter
def words(value: str) -> str:
    """`order_completed` -> `order completed`."""
    return value.replace("_", " ")
