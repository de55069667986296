"""Admin actions a user may not run: not offered, and refused with 403 when POSTed anyway."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class RefuseForbiddenActions:
    """ModelAdmin mixin: a POSTed action missing from ``get_actions`` answers 403.

    Django offers only the actions whose ``allowed_permissions`` hold; one POSTed
    anyway is silently ignored ("No action selected") or, when the user may run
    no action at all, the list is shown again. Say no plainly instead.
    """

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        name = request.POST.get("action") if request.method == "POST" else None
        if name and name in self.declared_actions() and name not in self.get_actions(request):
            raise PermissionDenied(f"You may not run the action {name!r}.")
        return super().changelist_view(request, extra_context)

    def declared_actions(self) -> set[str]:
        """Every action of this admin (and the site's), before permissions are applied."""
        return {name for _func, name, _description in self._get_base_actions()}
