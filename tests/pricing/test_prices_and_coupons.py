from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from pricing.interface import (
    CouponUnavailable,
    PriceInput,
    coupon_redeem,
    coupon_release,
    price_list_create,
    prices_for_variants,
    prices_import,
)
from pricing.models import Coupon, PriceList
from tests.factories import CouponFactory, VariantFactory


@pytest.fixture
def variant(db):
    variant = VariantFactory()
    price_list_create(code="base", name="Base")
    prices_import(price_list_code="base", prices=[PriceInput(variant.pk, Decimal("30.00"))])
    return variant


def test_campaign_list_overrides_base_while_valid(variant):
    price_list_create(code="campaign", name="Campaign", kind="campaign", priority=10)
    prices_import(price_list_code="campaign", prices=[PriceInput(variant.pk, Decimal("24.00"))])

    assert prices_for_variants(variant_ids=[variant.pk]) == {variant.pk: Decimal("24.00")}

    PriceList.objects.filter(code="campaign").update(
        valid_until=timezone.now() - timedelta(minutes=1)
    )
    assert prices_for_variants(variant_ids=[variant.pk]) == {variant.pk: Decimal("30.00")}


def test_reimporting_a_price_replaces_it(variant):
    prices_import(price_list_code="base", prices=[PriceInput(variant.pk, Decimal("31.50"))])

    assert prices_for_variants(variant_ids=[variant.pk]) == {variant.pk: Decimal("31.50")}


def test_prices_for_many_variants_is_one_query(variant, django_assert_num_queries):
    with django_assert_num_queries(1):
        prices_for_variants(variant_ids=[variant.pk, 999_999])


def test_coupon_cannot_be_redeemed_past_its_limit(db):
    CouponFactory(code="TWICE", max_uses=2)

    coupon_redeem(code="TWICE")
    coupon_redeem(code="twice")
    with pytest.raises(CouponUnavailable):
        coupon_redeem(code="TWICE")
    assert Coupon.objects.get(code="TWICE").used == 2

    coupon_release(code="TWICE")
    coupon_redeem(code="TWICE")
    assert Coupon.objects.get(code="TWICE").used == 2
