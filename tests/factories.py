"""factory_boy factories per app, and `stocked_product`, the one-call way to get
something a buyer can put in a cart (product, variants, prices and stock)."""

from decimal import Decimal

import factory

from catalog.models import Brand, Category, Product, ProductImage, Variant
from checkout.models import Cart, CartLine
from inventory.interface import StockReceipt, stock_receive
from pricing.interface import PriceInput, price_list_create, prices_import
from pricing.models import Coupon, Promotion
from search.interface import search_documents_refresh


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    parent = None
    depth = factory.LazyAttribute(lambda o: o.parent.depth + 1 if o.parent else 0)
    path = ""

    @factory.post_generation
    def set_path(self, create, extracted, **kwargs):
        prefix = self.parent.path if self.parent else ""
        self.path = f"{prefix}{self.pk:06d}/"
        if create:
            self.save(update_fields=["path"])


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    category = factory.SubFactory(CategoryFactory)
    brand = factory.SubFactory(BrandFactory)
    description = "A product made for tests."
    image_url = factory.Sequence(lambda n: f"https://img.peakstore.example/p/{n}.jpg")
    # Earlier products are more popular; far from 0, so a session's thousands of
    # products (reconciliation's tests make 120 each) never reach a test's explicit 1.
    popularity = factory.Sequence(lambda n: 1_000_000 - n)


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    url = factory.Sequence(lambda n: f"https://img.peakstore.example/i/{n}.jpg")
    alt = "product photo"


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    name = "Default"
    attributes = factory.LazyFunction(lambda: {"size": "M"})


class PromotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Promotion

    name = factory.Sequence(lambda n: f"Promotion {n}")
    kind = Promotion.Kind.PERCENT
    value = Decimal("10")
    target = Promotion.Target.ALL
    target_ref = ""


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon

    code = factory.Sequence(lambda n: f"SAVE{n}")
    kind = Coupon.Kind.PERCENT
    value = Decimal("10")


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart


class CartLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    variant = factory.SubFactory(VariantFactory)
    quantity = 1


def stocked_product(
    *,
    price: Decimal | str = "19.90",
    stock: int = 10,
    variants: int = 1,
    price_list: str = "base",
    **product_fields,
) -> Product:
    """Create a published product whose variants all have a price and stock."""
    product = ProductFactory(**product_fields)
    price_list_create(code=price_list, name=price_list.title())
    created = [VariantFactory(product=product, name=f"Variant {i}") for i in range(variants)]
    prices_import(
        price_list_code=price_list,
        prices=[PriceInput(variant_id=v.pk, amount=Decimal(price)) for v in created],
    )
    if stock > 0:
        stock_receive(
            receipts=[StockReceipt(variant_id=v.pk, quantity=stock) for v in created],
            reference="test",
        )
    # The services above notify search after commit, which a test transaction never
    # reaches: index explicitly, as the task would.
    search_documents_refresh(product_ids=[product.pk])
    return product
