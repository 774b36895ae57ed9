from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from reconciliation.models import DataException, ExceptionAction, Run
from reconciliation.services import InvalidTransition, exception_act


class ExceptionActionInline(admin.TabularInline):
    model = ExceptionAction
    extra = 0
    can_delete = False
    readonly_fields = ("action", "actor", "note", "at")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _act(action: str, label: str):
    @admin.action(description=label, permissions=["change"])
    def act(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for row in queryset:
            try:
                exception_act(exception_id=row.pk, action=action, actor=request.user.get_username())
                done += 1
            except InvalidTransition as refused:
                modeladmin.message_user(request, f"{row}: {refused}", messages.WARNING)
        modeladmin.message_user(request, f"{action}: {done} exception(s)")

    act.__name__ = f"exception_{action}"
    return act


@admin.register(DataException)
class DataExceptionAdmin(admin.ModelAdmin):
    """The exception queue; state changes go through the workflow, recorded with the actor.

    Ignoring needs a reason, so it is done on /ops/, not as a bulk action.
    """

    list_display = ("kind", "entity", "state", "owner", "seen_count", "first_seen", "last_seen")
    list_filter = ("state", "kind", "owner")
    search_fields = ("entity", "fingerprint")
    readonly_fields = [f.name for f in DataException._meta.fields]
    inlines = [ExceptionActionInline]
    actions = [_act("acknowledge", "Acknowledge"), _act("resolve", "Resolve")]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "routine",
        "status",
        "started_at",
        "compared",
        "differences",
        "repaired",
        "exceptions_opened",
        "auto_resolved",
        "dry_run",
    )
    list_filter = ("routine", "status")
    readonly_fields = [f.name for f in Run._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
