"""A console people can read: one short line per request, colour on a terminal, JSON for
machines (production, or PEAKSTORE_LOG_FORMAT=json). Each test names the format it reads."""

import io
import json
import logging
import secrets

import pytest
from django.test import Client, RequestFactory

from devstack.processes import StackConfig, beat_process, for_a_person, worker_process
from tests.storefront.test_settings import manage
from toolkit.accesslog import QUERIES_META
from toolkit.consolelog import ACCESS_LOGGER, ConsoleFormatter
from toolkit.jsonlog import JsonFormatter


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def access_log(settings, caplog):
    """Requests made through a fresh client are logged (the middleware reads the switch
    when the client builds its handler); returns the access records captured."""
    settings.PEAKSTORE_ACCESS_LOG = True
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    return lambda: [r for r in caplog.records if r.name == ACCESS_LOGGER]


def test_a_cached_page_is_one_line_per_request_with_sql_count_and_cache_verdict(
    access_log, product
):
    client = Client()

    client.get("/c/outdoor/?utm_source=mail")
    client.get("/c/outdoor/")

    cold, warm = access_log()
    lines = [ConsoleFormatter(colour=False).format(record) for record in (cold, warm)]
    # "12:04:31 GET /c/outdoor/ 200 14 ms 7 sql miss", then the same page from the cache
    assert lines[0].split()[1:4] == ["GET", "/c/outdoor/?utm_source=mail", "200"]
    assert lines[0].endswith(f"{cold.queries} sql miss")
    assert cold.queries > 0
    assert lines[1].endswith("0 sql hit")
    assert all("\n" not in line and len(line) < 100 for line in lines)


def test_the_path_logged_is_the_full_path_as_django_writes_it(access_log, db):
    """Built after the answer (only for a line shown), from the query as it arrived."""
    client = Client()
    asked = "/c/out door/caf\u00e9/?q=caf\u00e9&utm_source=a b&gclid=x%2Fy"

    client.get(asked)

    (record,) = access_log()
    assert record.path == RequestFactory().get(asked).get_full_path()


def test_a_shed_request_says_so(access_log, settings, db):
    from django.http import HttpResponse

    from toolkit.accesslog import AccessLogMiddleware

    def shed(request):
        response = HttpResponse(status=503)
        response["X-Peakstore-Shed"] = "browse"
        return response

    request = Client().get("/healthz").wsgi_request  # any real request object
    AccessLogMiddleware(shed)(request)

    record = access_log()[-1]
    assert (record.status, record.shed) == (503, "browse")
    assert ConsoleFormatter(colour=False).format(record).endswith("shed:browse")


def test_colour_only_on_a_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "GET", (), None)
    record.__dict__.update(method="GET", path="/", status=500, duration_ms=3.2, queries=1)

    on_terminal = ConsoleFormatter(stream=_Terminal()).format(record)
    in_a_file = ConsoleFormatter(stream=io.StringIO()).format(record)
    monkeypatch.setenv("NO_COLOR", "1")
    asked_not_to = ConsoleFormatter(stream=_Terminal()).format(record)

    assert "\033[31m500" in on_terminal
    assert "\033[" not in in_a_file
    assert "\033[" not in asked_not_to


def test_other_records_are_level_logger_message_and_request_id():
    record = logging.LogRecord("checkout", logging.WARNING, __file__, 1, "sold %s", ("out",), None)
    record.request_id = "5f2a9c0e11"

    line = ConsoleFormatter(colour=False).format(record)

    assert line.split(" ", 1)[1] == "WARNING checkout: sold out [5f2a9c0e]"


def test_json_keeps_every_field_of_a_request(access_log, db):
    Client().get("/healthz")

    entry = json.loads(JsonFormatter().format(access_log()[-1]))

    assert {key: entry[key] for key in ("method", "path", "status", "page_cache", "shed")} == {
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "page_cache": "",
        "shed": "",
    }
    assert entry["queries"] == 0
    assert isinstance(entry["duration_ms"], float)


def test_the_request_metrics_leave_the_sql_count_for_the_log(client, product):
    response = client.get("/p/trail-runner/")

    assert response.wsgi_request.META[QUERIES_META] > 0


def test_make_run_reads_as_a_console_unless_the_environment_says_otherwise():
    person = for_a_person(StackConfig(env={"PEAKSTORE_BACKOFFICE_TOKEN": "t"}), environ={})
    shipper = for_a_person(
        StackConfig(),
        environ={"PEAKSTORE_LOG_FORMAT": "json", "PEAKSTORE_TASK_LOG_LEVEL": "INFO"},
    )

    assert person.env == {
        "PEAKSTORE_LOG_FORMAT": "console",
        "PEAKSTORE_ACCESS_LOG": "1",
        "PEAKSTORE_BACKOFFICE_TOKEN": "t",
    }
    for process in (worker_process(person), beat_process(person)):
        assert process.argv[process.argv.index("--loglevel") + 1] == "WARNING"
    assert shipper.env["PEAKSTORE_LOG_FORMAT"] == "json"
    assert worker_process(shipper).argv[worker_process(shipper).argv.index("--loglevel") + 1] == (
        "INFO"
    )
    # Stacks of tests and benchmarks keep JSON, which their log readers parse.
    assert "PEAKSTORE_LOG_FORMAT" not in StackConfig().env


def test_production_logs_json_whatever_the_format_asked(tmp_path):
    code = "from django.conf import settings; print(settings.LOGGING['handlers']['console'])"
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        DJANGO_SETTINGS_MODULE="storefront.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="shop.example",
        PEAKSTORE_OPS_TOKEN=secrets.token_urlsafe(24),
        PEAKSTORE_VAR_DIR=str(tmp_path),
        PEAKSTORE_LOG_FORMAT="console",
    )

    assert result.returncode == 0, result.stderr
    assert "'formatter': 'json'" in result.stdout


def test_with_the_access_log_a_console_drops_djangos_repeat_of_each_4xx():
    from storefront.settings.base import logging_config

    console = logging_config("console", access_log=True)
    machine = logging_config("json", access_log=True)

    assert console["handlers"]["console"]["formatter"] == "console"
    assert console["loggers"]["django.request"] == {"level": "ERROR"}
    assert machine["handlers"]["console"]["formatter"] == "json"
    assert "django.request" not in machine["loggers"]


def test_past_its_budget_a_busy_second_is_one_summary_line_and_an_error_always_shows(
    access_log, settings, monkeypatch, db
):
    """A shed 503 is not an error: at 1.5x overload hundreds a second are summed up."""
    from django.http import HttpResponse

    from toolkit import accesslog

    settings.PEAKSTORE_ACCESS_LOG_LINES_PER_SECOND = 2
    clock = [100.0]
    monkeypatch.setattr(accesslog, "_now", lambda: clock[0])
    statuses = iter([200, 200, 200, 200, 500, 503, 503, 200])

    def view(request):
        request.META[accesslog.PAGE_CACHE_META] = "hit"
        status = next(statuses)
        response = HttpResponse(status=status)
        if status == 503:
            response[accesslog.SHED_HEADER] = "browse"
        return response

    middleware = accesslog.AccessLogMiddleware(view)
    request = Client().get("/healthz").wsgi_request
    before = len(access_log())
    for _ in range(7):  # one second: two lines, two hits and two sheds held, the 500 shown
        middleware(request)
    clock[0] = 101.2
    middleware(request)  # a later second: the summary first, then its own line

    records = access_log()[before:]
    assert [getattr(r, "status", None) for r in records] == [200, 200, 500, None, 200]
    summary = records[3]
    assert summary.held == {"hit": 2, "shed": 2}
    line = ConsoleFormatter(colour=False).format(summary)
    assert line.endswith("+4 requests not shown: 2 hit, 2 shed")


def test_a_log_shipper_gets_every_request(access_log, settings, db):
    settings.PEAKSTORE_ACCESS_LOG_LINES_PER_SECOND = None
    client = Client()

    for _ in range(30):
        client.get("/healthz")

    assert len([r for r in access_log() if hasattr(r, "status")]) == 30
