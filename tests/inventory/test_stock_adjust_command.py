from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inventory.models import Stock, StockMovement
from tests.factories import stocked_product


@pytest.fixture
def variant(db):
    return stocked_product(stock=10).variants.get()


def adjust(*args):
    out = StringIO()
    call_command("stock_adjust", *args, stdout=out)
    return out.getvalue()


def test_set_and_add_go_through_the_ledger(variant):
    assert "25 on hand" in adjust(variant.sku, "--set", "25", "--reason", "count")
    assert "22 on hand" in adjust(variant.sku, "--add", "-3", "--reason", "damaged")

    assert Stock.objects.get(variant=variant).on_hand == 22
    assert list(
        StockMovement.objects.filter(kind="adjustment").values_list("on_hand_delta", "reason")
    ) == [(15, "count"), (-3, "damaged")]


@pytest.mark.parametrize(
    "args",
    [
        ("NOPE", "--set", "1", "--reason", "x"),
        ("{sku}", "--set", "-1", "--reason", "x"),
        ("{sku}", "--set", "1", "--reason", "  "),
    ],
)
def test_bad_adjustments_are_refused(variant, args):
    with pytest.raises(CommandError):
        adjust(*(arg.format(sku=variant.sku) for arg in args))

    assert Stock.objects.get(variant=variant).on_hand == 10
