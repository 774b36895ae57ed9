"""Coupon codes are stored normalised (stripped, upper-case) and looked up exactly.

Codes that differ only in case or blanks would collide on the unique index: the
migration refuses to guess which one the shop meant and names them instead.
"""

from collections import defaultdict

from django.db import migrations


def _normalise(code):
    # A frozen copy of pricing.models.coupon_code_normalise: migrations must not change
    # when the app's code does.
    return code.strip().upper()


def coupon_codes_normalise(apps, schema_editor):
    Coupon = apps.get_model("pricing", "Coupon")
    by_code = defaultdict(list)
    for pk, code in Coupon.objects.order_by("pk").values_list("pk", "code"):
        by_code[_normalise(code)].append((pk, code))
    collisions = {new: old for new, old in by_code.items() if len(old) > 1}
    if collisions:
        listed = "; ".join(
            f"{new}: " + ", ".join(repr(code) for _, code in old)
            for new, old in sorted(collisions.items())
        )
        raise RuntimeError(
            "Coupon codes that differ only in case or blanks cannot all be kept; rename "
            f"or delete all but one of each group, then migrate again: {listed}"
        )
    for new, [(pk, code)] in by_code.items():
        if code != new:
            Coupon.objects.filter(pk=pk).update(code=new)


class Migration(migrations.Migration):

    dependencies = [
        ("pricing", "0002_promotion_mechanics"),
    ]

    operations = [
        migrations.RunPython(coupon_codes_normalise, migrations.RunPython.noop),
    ]
