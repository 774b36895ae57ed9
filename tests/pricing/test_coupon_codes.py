"""Coupon codes are stored normalised (stripped, upper-case) and matched exactly."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout.interface import cart_add_line, cart_create, cart_set_coupon
from pricing.interface import CouponInput, coupon_code_normalise, coupon_redeem, coupons_create
from pricing.models import Coupon
from tests.factories import CouponFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("pricing.migrations.0003_coupon_codes_normalised")


def test_codes_are_normalised_on_save_and_on_create():
    CouponFactory(code="  summer10 ")
    coupons_create(coupons=[CouponInput(code="winter5", kind="fixed", value=Decimal("5"))])

    assert set(Coupon.objects.values_list("code", flat=True)) == {"SUMMER10", "WINTER5"}
    assert coupon_code_normalise(" Summer10\t") == "SUMMER10"


def test_full_clean_refuses_a_code_differing_only_in_case():
    CouponFactory(code="SUMMER10")
    twin = Coupon(code="summer10", kind="percent", value=Decimal("10"))

    with pytest.raises(ValidationError) as refused:
        twin.full_clean()

    assert "code" in refused.value.message_dict


def test_a_buyer_may_type_the_code_in_any_case(sku):
    CouponFactory(code="SUMMER10", max_uses=1)
    cart = cart_create()
    cart_add_line(token=cart, sku=sku, quantity=1)

    view = cart_set_coupon(token=cart, code=" summer10 ")

    assert view.coupon is not None
    assert view.coupon.code == "SUMMER10"
    assert view.coupon.applied
    coupon_redeem(code="Summer10")
    assert Coupon.objects.get().used == 1


def test_lookups_are_exact_so_the_unique_index_serves_them(sku):
    CouponFactory(code="SUMMER10")
    cart = cart_create()
    cart_add_line(token=cart, sku=sku, quantity=1)

    with CaptureQueriesContext(connection) as queries:
        cart_set_coupon(token=cart, code="summer10")

    coupon_sql = [q["sql"] for q in queries.captured_queries if "pricing_coupon" in q["sql"]]
    assert coupon_sql
    assert not [sql for sql in coupon_sql if "UPPER(" in sql or " LIKE " in sql]


def test_the_migration_normalises_existing_codes():
    coupon = CouponFactory(code="SUMMER10")
    Coupon.objects.filter(pk=coupon.pk).update(code=" summer10")  # as stored before

    migration.coupon_codes_normalise(apps, None)

    assert Coupon.objects.get().code == "SUMMER10"


def test_the_migration_refuses_codes_that_would_collide():
    first, second = CouponFactory(code="A1"), CouponFactory(code="B2")
    Coupon.objects.filter(pk=first.pk).update(code="summer10")
    Coupon.objects.filter(pk=second.pk).update(code="Summer10 ")

    with pytest.raises(RuntimeError, match="SUMMER10: 'summer10', 'Summer10 '"):
        migration.coupon_codes_normalise(apps, None)

    assert set(Coupon.objects.values_list("code", flat=True)) == {"summer10", "Summer10 "}
