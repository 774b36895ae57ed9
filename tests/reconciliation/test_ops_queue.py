"""People work the exception queue on /ops/: staff only, every action recorded."""

import pytest
from django.contrib.auth.models import User

from reconciliation.interface import Finding
from reconciliation.models import DataException, ExceptionAction
from reconciliation.services import exceptions_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def exception():
    exceptions_record(
        findings=[Finding("stock.mismatch", "sku:SKU-1", "mismatch", {"erp_on_hand": 3})],
        actor="reconcile inventory",
    )
    return DataException.objects.get()


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_user("ada", is_staff=True))
    return client


def test_the_dashboard_lists_the_queue_with_its_actions(staff_client, exception):
    page = staff_client.get("/ops/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "sku:SKU-1" in html
    assert f"/ops/exceptions/{exception.pk}/acknowledge/" in html
    assert "docs/runbooks/stock.mismatch.md" in html


def test_an_action_by_post_is_recorded_with_its_actor(staff_client, exception):
    answer = staff_client.post(
        f"/ops/exceptions/{exception.pk}/ignore/",
        {"reason": "the ERP count is known wrong"},
        HTTP_ACCEPT="application/json",
    )

    assert answer.json() == {"state": "ignored"}
    action = ExceptionAction.objects.latest("pk")
    assert (action.action, action.actor) == ("ignore", "ada")


def test_ignoring_without_a_reason_is_a_400_in_the_error_shape(staff_client, exception):
    answer = staff_client.post(
        f"/ops/exceptions/{exception.pk}/ignore/", {}, HTTP_ACCEPT="application/json"
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "reason_required"


def test_an_unknown_exception_or_action_is_a_4xx(staff_client, exception):
    missing = staff_client.post("/ops/exceptions/999999/resolve/", HTTP_ACCEPT="application/json")
    unknown = staff_client.post(
        f"/ops/exceptions/{exception.pk}/explode/", HTTP_ACCEPT="application/json"
    )

    assert missing.status_code == 404
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_action"


def test_visitors_cannot_act(client, exception):
    answer = client.post(f"/ops/exceptions/{exception.pk}/resolve/")

    assert answer.status_code == 302  # to the admin login
    exception.refresh_from_db()
    assert exception.state == "open"


def test_open_exceptions_are_counted_by_kind_and_age(exception):
    from datetime import timedelta

    from django.utils import timezone

    from reconciliation.interface import exception_counts_by_kind_and_age

    exceptions_record(
        findings=[Finding("price.mismatch", f"sku:P{n}", "mismatch") for n in range(3)],
        actor="reconcile prices",
    )
    DataException.objects.filter(entity="sku:P0").update(
        first_seen=timezone.now() - timedelta(hours=3)
    )
    DataException.objects.filter(entity="sku:P1").update(
        first_seen=timezone.now() - timedelta(days=2)
    )

    assert exception_counts_by_kind_and_age() == {
        ("stock.mismatch", "under_1h"): 1,
        ("price.mismatch", "under_1h"): 1,
        ("price.mismatch", "1h_1d"): 1,
        ("price.mismatch", "over_1d"): 1,
    }
