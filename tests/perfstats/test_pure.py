"""perfstats is the bottom layer: the black-box load tests import it without the store."""

import subprocess
import sys


def test_perfstats_imports_neither_django_nor_any_package_of_the_store():
    # A fresh interpreter: this one has Django loaded already.
    code = (
        "import sys, perfstats.quantiles, perfstats.charts\n"
        "loaded = {name.partition('.')[0] for name in sys.modules}\n"
        "print(' '.join(sorted(loaded & {'django', 'toolkit', 'storefront', 'loadtests',"
        " 'devstack', 'integrations', 'catalog', 'pricing', 'inventory', 'search', 'checkout',"
        " 'releases'})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert done.stdout.strip() == ""
