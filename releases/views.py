"""Release state as JSON, and decisions by POST, for staff on `/ops/`.

Staff see; only holders of each action's permission decide (the service checks). A form
says where to go back to in its `next` field: this app knows no page of the store.
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from releases.selectors import release_decisions, releases_overview
from releases.services import release_decide
from releases.spec import FLAGS
from toolkit.errors import DomainError
from toolkit.query import iso_datetime


@require_safe
@never_cache
@staff_member_required
def releases_data(request: HttpRequest) -> JsonResponse:
    """Every flag's state and recent decisions; `?since=<ISO time>` adds the timeline."""
    data = releases_overview()
    if since := request.GET.get("since"):
        try:
            moment = parse_datetime(iso_datetime(since))
        except ValueError as error:
            message = f"since {error}."
            return JsonResponse(
                {"error": {"code": "invalid_request", "message": message}}, status=400
            )
        data["timeline"] = release_decisions(since=moment)
    return JsonResponse(data)


@require_POST
@staff_member_required
def release_decision(request: HttpRequest, name: str, action: str) -> HttpResponse:
    """Record a person's decision about flag `name`, then go back to the form's page."""
    if name not in FLAGS:
        return JsonResponse({"error": {"code": "not_found", "message": name}}, status=404)
    try:
        release_decide(
            name=name, action=action, actor=request.user, reason=request.POST.get("reason", "")
        )
    except DomainError as error:
        if request.accepts("text/html"):
            messages.error(request, error.message)
            return _back(request)
        return JsonResponse(
            {"error": {"code": error.code, "message": error.message}}, status=error.status
        )
    if request.accepts("text/html"):
        messages.success(request, f"{name}: {action} recorded")
        return _back(request)
    return JsonResponse({"ok": True})


def _back(request: HttpRequest) -> HttpResponse:
    """Redirect to the form's `next` page if it is on this site, else to the state."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("releases:data")
