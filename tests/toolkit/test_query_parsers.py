"""toolkit.query's strict parsers, one class of hostile input at a time."""

import pytest

from toolkit.pagination import InvalidPage, parse_page_number
from toolkit.query import (
    JsonTooDeep,
    iso_datetime,
    json_depth_check,
    printable,
    url_token,
    whole_number,
)


@pytest.mark.parametrize("raw", ["²", "١٢", "\uff11", "1.5", "1e3", "-1", " ", "9" * 19, "1\x00"])
def test_whole_number_takes_ascii_digits_only(raw):
    with pytest.raises(ValueError, match="digits 0-9"):
        whole_number()(raw)


def test_whole_number_takes_a_sign_only_where_negatives_are_allowed():
    assert whole_number(minimum=-5, maximum=5)("-5") == "-5"
    with pytest.raises(ValueError, match="between -5 and 5"):
        whole_number(minimum=-5, maximum=5)("-6")


@pytest.mark.parametrize("raw", ["١٢", "\uff11", "²", "0", "1000001"])
def test_page_numbers_are_ascii_and_bounded(raw):
    with pytest.raises(InvalidPage):
        parse_page_number(raw)


@pytest.mark.parametrize("raw", ["", "a b", "a\x00", "a\n", "é", "a" * 65, "a/b"])
def test_url_token_refuses_what_the_store_never_issues(raw):
    with pytest.raises(ValueError, match="not a valid token"):
        url_token(raw)


def test_printable_refuses_control_characters_and_overlong_text():
    line = printable(max_length=5)
    assert line("Ada²") == "Ada²"
    for raw in ("a\x00", "a\x1b", "a\r\nb"):
        with pytest.raises(ValueError, match="control characters"):
            line(raw)
    with pytest.raises(ValueError, match="at most 5"):
        line("abcdef")


def test_json_depth_is_bounded_before_parsing():
    json_depth_check(b"[" * 32 + b"]" * 32)
    with pytest.raises(JsonTooDeep):
        json_depth_check(b"[" * 33 + b"]" * 33)
    with pytest.raises(JsonTooDeep):
        json_depth_check(b"[" * 5000)  # unterminated too: refused before json recurses


def test_brackets_inside_strings_do_not_count():
    json_depth_check(b'{"a": "' + b"[" * 100 + b'\\"' + b"{" * 100 + b'"}')
    json_depth_check(b'"unterminated ' + b"[" * 100)


def test_iso_datetime_refuses_impossible_and_foreign_dates():
    assert iso_datetime("2026-01-31T12:00:00Z") == "2026-01-31T12:00:00+00:00"
    for raw in (
        "2024-13-45T25:61:00",
        "yesterday",
        "\uff12\uff10\uff12\uff16-01-31T12:00",
        "9" * 50,
    ):
        with pytest.raises(ValueError, match="ISO 8601"):
            iso_datetime(raw)
