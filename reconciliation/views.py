"""The exception queue as JSON, and people's actions by POST, for staff on `/ops/`.

A form says where to go back to in its `next` field: this app knows no page of the store.
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from reconciliation.selectors import exceptions_overview
from reconciliation.services import exception_act
from toolkit.errors import DomainError


@require_safe
@never_cache
@staff_member_required
def exceptions_data(request: HttpRequest) -> JsonResponse:
    """The live queue, counts by kind and age, proposals and recent runs."""
    return JsonResponse(exceptions_overview(limit=100))


@require_POST
@staff_member_required
def exception_action(request: HttpRequest, exception_id: int, action: str) -> HttpResponse:
    """Record a person's action on an exception, then go back to the form's page."""
    try:
        state = exception_act(
            exception_id=exception_id,
            action=action,
            actor=request.user.get_username(),
            reason=request.POST.get("reason", ""),
            proposed_change=request.POST.get("proposed_change", ""),
        )
    except DomainError as error:
        if request.accepts("text/html"):
            messages.error(request, error.message)
            return _back(request)
        return JsonResponse(
            {"error": {"code": error.code, "message": error.message, "details": error.details}},
            status=error.status,
        )
    if request.accepts("text/html"):
        messages.success(request, f"exception {exception_id}: {action} recorded")
        return _back(request)
    return JsonResponse({"state": state})


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("reconciliation:data")
