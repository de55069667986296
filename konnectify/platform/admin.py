"""Admin for API tokens: issued once, shown once, revocable.

A token acts as its user, so choosing that user is choosing whose powers it
carries: only a superuser may issue a token for (or see, or revoke) another
user's tokens; everyone else issues, sees and revokes only their own.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from konnectify.platform.admin_actions import RefuseForbiddenActions
from konnectify.platform.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(RefuseForbiddenActions, admin.ModelAdmin):
    list_display = ["name", "user", "hint", "read_only", "created_at", "last_used_at", "status"]
    list_filter = ["read_only", "revoked_at"]
    search_fields = ["name", "user__username"]
    readonly_fields = ["hint", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "user", "read_only", "hint", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    @admin.display(description="Status")
    def status(self, token: ApiToken) -> str:
        return "revoked" if token.is_revoked else "active"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user=request.user)

    def get_readonly_fields(self, request, obj=None):
        # A token's owner and scope are fixed once issued; revoke and issue anew.
        if obj is not None:
            return [*self.readonly_fields, "name", "user", "read_only"]
        if not request.user.is_superuser:
            return [*self.readonly_fields, "user"]
        return self.readonly_fields

    def get_list_filter(self, request):
        return [*self.list_filter, "user"] if request.user.is_superuser else self.list_filter

    def get_changeform_initial_data(self, request):
        return {"user": request.user.pk}

    def save_model(self, request, obj, form, change) -> None:
        """Issue the token; a non-superuser's is always their own, whatever was posted."""
        if not request.user.is_superuser:
            if change and obj.user_id != request.user.pk:
                raise PermissionDenied("Only a superuser may change another user's token.")
            obj.user = request.user
        if change:
            return super().save_model(request, obj, form, change)
        token, raw = ApiToken.issue(name=obj.name, user=obj.user, read_only=obj.read_only)
        obj.pk = token.pk
        messages.warning(request, f"Copy the token now, it is not shown again: {raw}")

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset) -> None:
        for token in queryset.filter(revoked_at__isnull=True):
            token.revoke()
        messages.success(request, "Revoked.")
