"""bench_throughput's command line, and the servers it compares (nothing is started)."""

import pytest

from devstack.management.commands.bench_throughput import (
    CAMPAIGN_QUERY,
    Command,
    bare_process,
    page_url,
)
from devstack.processes import StackConfig, web_process


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]):
    parser = Command().create_parser("manage.py", "bench_throughput")

    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--help"])

    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for option in ("--rounds", "--duration", "--connections", "--var-dir", "--keep-var-dir"):
        assert option in shown


def test_connections_are_a_comma_separated_list():
    parser = Command().create_parser("manage.py", "bench_throughput")

    assert parser.parse_args(["--connections", "4,16"]).connections == [4, 16]
    assert parser.parse_args([]).connections == [4, 16, 64]


def test_bare_django_runs_under_the_store_gunicorn_command_line():
    # Given the store's gunicorn command line for a port.
    config = StackConfig(port=8599)
    store = list(web_process(config).argv)

    # When bare Django's is derived from it.
    bare = bare_process(config)

    # Then only the application and the store's hooks differ.
    hooks = store.index("--config")
    expected = store[:hooks] + store[hooks + 2 :]
    expected[expected.index("storefront.wsgi")] = "devstack.bare_django:application"
    assert list(bare.argv) == expected
    assert "--no-control-socket" in bare.argv
    assert bare.argv[bare.argv.index("--workers") + 1] == str(config.web_workers)
    assert bare.port == 8599


def test_the_campaign_form_adds_utm_parameters():
    base = "http://127.0.0.1:8599"

    assert page_url(base, "/c/outdoor/", form="plain") == f"{base}/c/outdoor/"
    assert page_url(base, "/c/outdoor/", form="click") == f"{base}/c/outdoor/?{CAMPAIGN_QUERY}"
