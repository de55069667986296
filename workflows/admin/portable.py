"""Admin pages for moving workflows: Export, Import a workflow, Copy to a live connection.

Thin views over ``workflows.portable``; the workflow admin wires them in with
``urls`` and shows their buttons with ``change_context`` and ``list_context``.
Rights, as elsewhere in admin: exporting needs to view the workflow and its steps (the
document is mostly steps, which the change page shows only to who may view steps);
importing, to add workflows and use the chosen connection (and the credentials its
steps name: a refusal is listed by path like any problem); copying, to add and change
workflows and use the live connection (``connections.use_connection``).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from connections.models import Connection
from connections.permissions import can_use, require_use
from stripe_connector.jsonbounds import JSONProblem, loads
from workflows import portable
from workflows.admin.common import object_or_404
from workflows.models import Step, Workflow

# An exported workflow is a few kilobytes; a file far larger is not one.
MAX_DOCUMENT_BYTES = 1024 * 1024


def urls(model_admin) -> list:
    """The pages' admin URLs, for the workflow admin's ``get_urls``."""
    view = model_admin.admin_site.admin_view
    return [
        path(
            "import/",
            view(lambda request: import_view(model_admin, request)),
            name="workflows_workflow_import",
        ),
        path(
            "<int:pk>/export/",
            view(require_GET(lambda request, pk: export_view(model_admin, request, pk))),
            name="workflows_workflow_export",
        ),
        path(
            "<int:pk>/copy-to-live/",
            view(lambda request, pk: copy_to_live_view(model_admin, request, pk)),
            name="workflows_workflow_copy_to_live",
        ),
    ]


def change_context(model_admin, request: HttpRequest, workflow: Workflow) -> dict[str, bool]:
    """The change page's buttons: ``can_export``, ``can_copy_to_live``."""
    return {
        "can_export": may_export(model_admin, request, workflow),
        "can_copy_to_live": workflow.connection.mode == Connection.Mode.TEST
        and may_copy(model_admin, request, workflow),
    }


def list_context(model_admin, request: HttpRequest) -> dict[str, bool]:
    """The list's button: ``can_import``."""
    return {"can_import": may_import(model_admin, request)}


def may_export(model_admin, request: HttpRequest, workflow: Workflow) -> bool:
    """To view the workflow and its steps (``view_step`` or ``change_step``, as the
    change page's steps need)."""
    return model_admin.has_view_or_change_permission(request, workflow) and may_view_steps(
        request.user
    )


def may_view_steps(user) -> bool:
    options = Step._meta
    return any(
        user.has_perm(f"{options.app_label}.{get_permission_codename(action, options)}")
        for action in ("view", "change")
    )


def may_import(model_admin, request: HttpRequest) -> bool:
    return model_admin.has_add_permission(request) and can_use(request.user)


def may_copy(model_admin, request: HttpRequest, workflow: Workflow) -> bool:
    return (
        model_admin.has_add_permission(request)
        and model_admin.has_change_permission(request, workflow)
        and can_use(request.user)
    )


def usable(user, mode: str | None = None) -> list[Connection]:
    """The connections ``user`` may use (of ``mode``, when given), by name."""
    connections = Connection.objects.order_by("name")
    if mode is not None:
        connections = connections.filter(mode=mode)
    return [connection for connection in connections if can_use(user, connection)]


def problem_rows(errors: dict[str, list[str]]) -> list[tuple[str, str]]:
    """``(path, message)`` rows for the page; the document as a whole is "document"."""
    return [
        (path or "document", message) for path, messages in errors.items() for message in messages
    ]


# -- export ------------------------------------------------------------------------------


def export_view(model_admin, request: HttpRequest, pk: int) -> HttpResponse:
    """The workflow's document as a download (``portable.export_text``); 403 without the
    right to view it."""
    workflow = get_object_or_404(Workflow, pk=pk)
    if not may_export(model_admin, request, workflow):
        raise PermissionDenied("Exporting needs to view the workflow and its steps.")
    response = HttpResponse(portable.export_text(workflow), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{portable.export_filename(workflow)}"'
    return response


# -- import ------------------------------------------------------------------------------


class ImportForm(forms.Form):
    """Where the workflow goes, and its document: a file, or pasted text."""

    connection = forms.ModelChoiceField(
        queryset=Connection.objects.none(),
        help_text="The imported workflow starts on this connection's events and its steps use "
        "its key.",
    )
    file = forms.FileField(
        required=False,
        label="Exported file",
        help_text="A .workflow.json file downloaded with Export.",
    )
    text = forms.CharField(
        required=False,
        label="Or paste its JSON",
        widget=forms.Textarea(
            attrs={"rows": 12, "spellcheck": "false", "class": "vLargeTextField"}
        ),
    )

    keep_alert_emails = forms.BooleanField(
        required=False,
        label="Keep its alert addresses",
        help_text="The file's alert emails get failed runs' alerts, with customer data. "
        "Tick only if they are yours; left unticked, they are not imported and the "
        "workflow's page lists them.",
    )

    def __init__(self, *args: Any, user=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = [connection.pk for connection in usable(user)]
        self.fields["connection"].queryset = Connection.objects.filter(pk__in=allowed).order_by(
            "name"
        )

    def clean(self) -> dict[str, Any]:
        """The document read as JSON (``document``); a problem names the file or the text."""
        data = super().clean()
        upload, text = data.get("file"), (data.get("text") or "").strip()
        if bool(upload) == bool(text):
            raise forms.ValidationError("Choose a file or paste the JSON (one of them).")
        field = "file" if upload else "text"
        if upload:
            if upload.size > MAX_DOCUMENT_BYTES:
                raise forms.ValidationError(
                    {"file": f"An exported workflow is far smaller than {upload.size} bytes."}
                )
            try:
                text = upload.read().decode("utf-8-sig")  # a byte order mark is left out
            except UnicodeDecodeError:
                raise forms.ValidationError({"file": "Not UTF-8 text: not an export."}) from None
        text = text.removeprefix("\ufeff")
        try:
            data["document"] = loads(text)
        except JSONProblem as exc:
            where = f" at {exc.field}" if exc.field else ""
            raise forms.ValidationError(
                {field: f"Not a JSON document{where}: {exc.reason}"}
            ) from None
        return data


def import_view(model_admin, request: HttpRequest) -> HttpResponse:
    """Import a workflow: on success, to the new (inactive) workflow's page with a message;
    otherwise the page again, with the problems listed by path."""
    if not may_import(model_admin, request):
        raise PermissionDenied("Importing needs to add workflows and use connections.")
    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    problems: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        connection = form.cleaned_data["connection"]
        require_use(request.user, connection)
        try:
            workflow = portable.import_workflow(
                form.cleaned_data["document"],
                connection,
                request.user,
                keep_alert_emails=form.cleaned_data["keep_alert_emails"],
            )
        except (portable.PortableError, portable.CredentialRefused) as exc:
            problems = problem_rows(exc.errors)
        else:
            model_admin.message_user(
                request,
                f"Imported {workflow} onto {connection.name} (inactive): review it, test its "
                "steps, then activate it.",
            )
            for warning in getattr(workflow, "api_warnings", []):
                model_admin.message_user(
                    request, f"{warning['field']}: {warning['message']}", level="warning"
                )
            return HttpResponseRedirect(
                reverse("admin:workflows_workflow_change", args=[workflow.pk])
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Import a workflow",
        "opts": model_admin.model._meta,
        "form": form,
        "problems": problems,
    }
    return TemplateResponse(request, "admin/workflows/workflow/import.html", context)


# -- copy to a live connection ---------------------------------------------------------------


def copy_to_live_view(model_admin, request: HttpRequest, pk: int) -> HttpResponse:
    """Copy a test-mode workflow to a live connection: choose it, read the preview (what
    differs from the live copy, the test ids to replace), confirm, copy; then to the live
    copy's page. A refusal shows the page again with its problems by path."""
    workflow = get_object_or_404(Workflow.objects.select_related("connection"), pk=pk)
    if not may_copy(model_admin, request, workflow):
        raise PermissionDenied("Copying needs to add and change workflows and use connections.")
    data = request.POST if request.method == "POST" else request.GET
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "title": f"Copy {workflow} to a live connection",
        "opts": model_admin.model._meta,
        "workflow": workflow,
        "targets": usable(request.user, Connection.Mode.LIVE),
        "problems": [],
    }
    context["refusal"] = portable.source_problem(workflow)
    if context["refusal"]:
        return TemplateResponse(request, TEMPLATE, context)
    if data.get("connection"):
        target = object_or_404(Connection, data["connection"])
        require_use(request.user, target)
        context["target"] = target
        response = _preview_or_copy(model_admin, request, workflow, target, context)
        if response is not None:
            return response
    return TemplateResponse(request, TEMPLATE, context)


TEMPLATE = "admin/workflows/workflow/copy_to_live.html"


def _preview_or_copy(
    model_admin, request: HttpRequest, workflow: Workflow, target: Connection, context: dict
) -> HttpResponse | None:
    """Copy when asked (POST with ``_copy``) and confirmed; else fill in the preview.

    Returns the redirect after a copy, None to show the page."""
    given = {
        key.removeprefix("replace_"): value
        for key, value in request.POST.items()
        if key.startswith("replace_")
    }
    if request.method == "POST" and "_copy" in request.POST:
        if request.POST.get("confirm_live") != "yes":
            context["problems"] = [
                (
                    "confirm_live",
                    "Tick the confirmation: the copy is a workflow of your live account.",
                )
            ]
        else:
            try:
                live = portable.promote(workflow, target, request.user, given)
            except (portable.PortableError, portable.CredentialRefused) as exc:
                context["problems"] = problem_rows(exc.errors)
            else:
                return _copied(model_admin, request, workflow, live, target)
    try:
        preview = portable.promotion_preview(workflow, target, given)
    except portable.PortableError as exc:
        context["problems"] += problem_rows(exc.errors)
        return None
    context["preview"] = preview
    context["differences"] = [
        {**item, "live": shown(item["live"]), "test": shown(item["test"])}
        for item in preview["differences"]
    ]
    context["ids"] = [
        {
            **item,
            "value": given.get(item["id"], item["suggestion"] or ""),
            "wrong": any(
                path == f"replacements.{item['id']}"
                or (path == "replacements" and item["id"] in message)
                for path, message in context["problems"]
            ),
        }
        for item in preview["stripe_ids"]
    ]
    return None


def _copied(model_admin, request, workflow: Workflow, live: Workflow, target) -> HttpResponse:
    verb = "Created" if live.copy_created else "Updated"
    note = " It was active: it is now inactive." if live.copy_deactivated else ""
    model_admin.message_user(
        request,
        f"{verb} the live copy of {workflow} on {target.name} (inactive).{note} Review it, then "
        "activate it.",
    )
    for warning in getattr(live, "api_warnings", []):
        model_admin.message_user(
            request, f"{warning['field']}: {warning['message']}", level="warning"
        )
    return HttpResponseRedirect(reverse("admin:workflows_workflow_change", args=[live.pk]))


def shown(value: Any) -> str:
    """A value of a difference as the page shows it: JSON, "(none)" for null or absent."""
    if value is None:
        return "(none)"
    indent = 2 if isinstance(value, dict | list) and value else None
    return json.dumps(value, indent=indent, ensure_ascii=False)
