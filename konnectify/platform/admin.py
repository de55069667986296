"""Admin for API tokens, users and groups: nobody but a superuser grants rights.

A token acts as its user, so choosing that user is choosing whose powers it
carries: only a superuser may issue a token for (or see, or revoke) another
user's tokens; everyone else issues, sees and revokes only their own.

Django's stock UserAdmin and GroupAdmin let anyone with "Can change user" make
themselves superuser, and anyone with "Can change group" add any permission to
their own group. Here only a superuser changes what grants rights (a user's
superuser and staff status, permissions and groups; a group's permissions), and
a non-superuser may change, reset the password of, or delete only accounts that
hold no more than they do: otherwise a new password is a way into a stronger
account.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q

from konnectify.platform.admin_actions import RefuseForbiddenActions
from konnectify.platform.models import ApiToken

User = get_user_model()
# The fields of a user that grant rights; a group's is "permissions".
GRANTING_USER_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


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

    def get_form(self, request, obj=None, **kwargs):
        """A non-superuser's new token shows its owner, themselves, in the read-only field
        (a read-only field shows the instance's value, not the initial data, else "-")."""
        form = super().get_form(request, obj, **kwargs)
        if obj is not None or request.user.is_superuser:
            return form
        owner = request.user

        class OwnTokenForm(form):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                self.instance.user = owner

        return OwnTokenForm

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


def held_permissions(user) -> set[str]:
    """``{"app_label.codename", ...}`` the user holds directly or through groups.

    Read from the tables, not ``get_all_permissions()``: that is empty for an
    inactive user, who would then look harmless until reactivated.
    """
    granted = Permission.objects.filter(Q(user=user) | Q(group__user=user)).distinct()
    return {
        f"{app}.{codename}"
        for app, codename in granted.values_list("content_type__app_label", "codename")
    }


def within_reach(editor, account) -> bool:
    """Whether ``editor`` may change, set the password of, or delete ``account``.

    A superuser may touch any account; anyone else only accounts that are not
    superusers and hold no permission the editor lacks (their own included).
    """
    if editor.is_superuser:
        return True
    if account.is_superuser:
        return False
    return held_permissions(account) <= editor.get_all_permissions()


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class KonnectifyUserAdmin(UserAdmin):
    """Django's UserAdmin where only a superuser grants (see the module docstring)."""

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return [*fields, *GRANTING_USER_FIELDS]

    def has_change_permission(self, request, obj=None) -> bool:
        # Also asked by the password change view (UserAdmin.user_change_password).
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or within_reach(request.user, obj))

    def has_delete_permission(self, request, obj=None) -> bool:
        # Also asked per selected user by the "delete selected" action.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or within_reach(request.user, obj))

    def save_model(self, request, obj, form, change) -> None:
        """Save; refuse a non-superuser's save that would grant anything, whatever was posted.

        The granting fields are read-only for them (the form ignores posted
        values); this is the server-side check should a form ever carry them.
        """
        if not request.user.is_superuser:
            stored = User.objects.filter(pk=obj.pk).first() if change else None
            for name in ("is_superuser", "is_staff"):
                if getattr(obj, name) and not (stored and getattr(stored, name)):
                    raise PermissionDenied(f"Only a superuser may set {name}.")
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        if not request.user.is_superuser and {"groups", "user_permissions"} & form.fields.keys():
            raise PermissionDenied("Only a superuser may change groups or permissions.")
        super().save_related(request, form, formsets, change)


@admin.register(Group)
class KonnectifyGroupAdmin(GroupAdmin):
    """Django's GroupAdmin where only a superuser changes a group's permissions."""

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return fields if request.user.is_superuser else [*fields, "permissions"]

    def save_related(self, request, form, formsets, change) -> None:
        if not request.user.is_superuser and "permissions" in form.fields:
            raise PermissionDenied("Only a superuser may change a group's permissions.")
        super().save_related(request, form, formsets, change)
