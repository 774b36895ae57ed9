"""Query parsing and cursors are pure: odd input is tested here without a database."""

import pytest
from django.core import signing

from search.query import (
    MAX_TERMS,
    Cursor,
    InvalidCursor,
    cursor_decode,
    cursor_encode,
    fts5_query,
    normalise_query,
    postgres_tsquery,
    query_terms,
)


@pytest.mark.parametrize(
    ("raw", "terms"),
    [
        ("Rain  Jacket", ("rain", "jacket")),
        ('"tent" OR stove*', ("tent", "or", "stove")),
        ("'; DROP TABLE catalog_product; --", ("drop", "table", "catalog", "product")),
        ("NEAR(a b) & !c | d:*", ("near", "a", "b", "c", "d")),
        ("Über Zelt 🙂 テント", ("über", "zelt", "テント")),
        ("%_\\", ()),
        ("", ()),
    ],
)
def test_query_terms_keep_words_and_drop_syntax(raw, terms):
    assert query_terms(raw) == terms


def test_query_terms_are_bounded():
    terms = query_terms(" ".join(f"w{i}" for i in range(50)) + " " + "x" * 500)

    assert len(terms) == MAX_TERMS
    assert all(len(term) <= 40 for term in terms)


def test_normalise_query_drops_nul_and_bounds_length():
    assert normalise_query("  a\x00b \n c ") == "ab c"
    assert len(normalise_query("x" * 5000)) == 200


def test_full_text_expressions_quote_every_term_as_a_prefix():
    assert postgres_tsquery(("rain", "jack")) == "'rain':* & 'jack':*"
    assert fts5_query(("rain", "jack")) == '"rain"* "jack"*'


def test_a_cursor_round_trips_for_its_own_search():
    token = cursor_encode(Cursor("abc", (0.25, 10, 7)))

    assert cursor_decode(token, expected_fingerprint="abc", key_length=3).key == (0.25, 10, 7)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "",
        "x" * 5000,
        signing.dumps({"f": "abc", "k": [1, 2, 3]}, salt="another.salt"),
        signing.dumps({"f": "abc", "k": ["'; DROP", 2, 3]}, salt="search.cursor.v1"),
        signing.dumps({"f": "abc"}, salt="search.cursor.v1"),
    ],
)
def test_forged_or_malformed_cursors_are_refused(token):
    with pytest.raises(InvalidCursor):
        cursor_decode(token, expected_fingerprint="abc", key_length=3)


def test_a_cursor_from_another_search_is_refused():
    token = cursor_encode(Cursor("other", (1, 2)))

    with pytest.raises(InvalidCursor):
        cursor_decode(token, expected_fingerprint="abc", key_length=2)
