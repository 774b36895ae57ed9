"""The Django admin for releases: state read-only, decisions as permission-checked actions."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from releases.models import ReleaseDecision, ReleaseFlag, ReleaseWindow
from releases.services import HUMAN_ACTIONS, release_decide, release_permission
from toolkit.errors import DomainError


def _decision_action(action: str):
    def run(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        for flag in queryset:
            try:
                release_decide(name=flag.name, action=action, actor=request.user, reason="admin")
            except DomainError as error:
                modeladmin.message_user(request, error.message, messages.ERROR)
            else:
                modeladmin.message_user(request, f"{flag.name}: {action} recorded")

    run.__name__ = f"release_{action}"
    # The admin hides the action from anyone without the permission; the service checks it again.
    return admin.action(
        description=f"{action.capitalize()} the selected releases",
        permissions=[action],
    )(run)


class ReleaseDecisionInline(admin.TabularInline):
    model = ReleaseDecision
    extra = 0
    can_delete = False
    fields = (
        "at",
        "action",
        "actor",
        "automatic",
        "exposure_before_bp",
        "exposure_after_bp",
        "reason",
    )
    readonly_fields = fields
    ordering = ("-at",)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ReleaseFlag)
class ReleaseFlagAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "exposure_bp", "step_index", "failures", "updated_at")
    readonly_fields = [field.name for field in ReleaseFlag._meta.fields]
    actions = [_decision_action(action) for action in HUMAN_ACTIONS]
    inlines = [ReleaseDecisionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # flags are declared in code; rows appear on their first decision

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _has(action: str):
    def check(self: ReleaseFlagAdmin, request: HttpRequest) -> bool:
        return request.user.has_perm(release_permission(action))

    return check


for _action in HUMAN_ACTIONS:
    setattr(ReleaseFlagAdmin, f"has_{_action}_permission", _has(_action))


@admin.register(ReleaseDecision)
class ReleaseDecisionAdmin(admin.ModelAdmin):
    """The audit trail: read-only."""

    list_display = ("at", "flag", "action", "actor", "automatic", "exposure_after_bp")
    list_filter = ("action", "automatic", "flag")
    readonly_fields = [field.name for field in ReleaseDecision._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ReleaseWindow)
class ReleaseWindowAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "starts_at", "ends_at")
    list_filter = ("kind",)
