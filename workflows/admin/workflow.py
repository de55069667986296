"""Admin for workflows: declarative; the logic lives in services and the engine."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from connections.models import Connection
from connections.permissions import can_use, require_use
from konnectify.platform.admin_actions import RefuseForbiddenActions
from stripe_connector.catalog import TRIGGERS
from stripe_connector.catalog import trigger_choices as catalog_triggers
from workflows import services, tryout
from workflows.admin import editor
from workflows.admin import portable as portable_pages
from workflows.admin.common import object_or_404
from workflows.admin.steps import StepInline
from workflows.alerts import AlertEmailsField
from workflows.automations import AUTOMATIONS, create_from_automation
from workflows.models import SCHEDULE_TRIGGER, TRIGGER_FIELDS, Step, Workflow
from workflows.templatetags.workflow_charts import runs_chart


def trigger_choices() -> list:
    """A blank first (a trigger is chosen, never preselected), the catalog's, the schedule."""
    return [
        ("", "---------"),
        *catalog_triggers(),
        ("Schedule", [(SCHEDULE_TRIGGER, "Schedule (cron or interval)")]),
    ]


def trigger_fields_config() -> dict[str, Any]:
    """For workflow_page.js: which fields each trigger kind shows, and the keys that are not
    catalog event triggers (``Workflow.trigger_kind``)."""
    custom = [key for key, trigger in TRIGGERS.items() if trigger.event_type is None]
    return {
        "kinds": {kind: list(fields) for kind, fields in TRIGGER_FIELDS.items()},
        "keys": {SCHEDULE_TRIGGER: "schedule", **dict.fromkeys(custom, "custom")},
    }


def pretty_json(value: Any) -> str:
    """JSON indented for reading in a <pre> (null, false and double quotes, as Stripe writes)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class WorkflowForm(forms.ModelForm):
    trigger_key = forms.ChoiceField(
        label="Trigger",
        choices=trigger_choices,
        help_text="An event in Stripe, or a schedule. Only the chosen kind's fields are kept.",
    )

    class Meta:
        model = Workflow
        fields = (
            "name",
            "description",
            "connection",
            "active",
            "trigger_key",
            "custom_event_type",
            "schedule_cron",
            "schedule_minutes",
            "filters",
            "alert_emails",
            "alert_chat",
        )
        # Nesting and numbers within the product's one bound on JSON: never a 500.
        field_classes = {"filters": editor.FiltersField, "alert_emails": AlertEmailsField}


@admin.register(Workflow)
class WorkflowAdmin(RefuseForbiddenActions, admin.ModelAdmin):
    form = WorkflowForm
    inlines = [StepInline]
    list_display = ("name", "connection", "trigger_key", "active", "updated_at")
    list_filter = ("active", "connection", "trigger_key")
    search_fields = ("name", "description", "event_type")
    readonly_fields = ("event_type", "chart")
    actions = ["activate", "deactivate", "load_sample"]
    change_form_template = "admin/workflows/workflow/change_form.html"
    change_list_template = "admin/workflows/workflow/change_list.html"
    fieldsets = (
        (None, {"fields": ("name", "description", "connection", "active")}),
        (
            "Trigger",
            {
                "fields": (
                    "trigger_key",
                    "custom_event_type",
                    "event_type",
                    "schedule_cron",
                    "schedule_minutes",
                    "filters",
                )
            },
        ),
        ("Alerts when a run fails", {"fields": ("alert_emails", "alert_chat")}),
        ("Runs", {"fields": ("chart",)}),
    )

    class Media:
        css = {"all": ["workflows/workflow_page.css"]}
        js = ["workflows/workflow_page.js"]

    def get_fieldsets(self, request: HttpRequest, obj: Workflow | None = None):
        """A new workflow has no runs yet: no chart on the add page. Nor for a user who
        may not view runs: its bars open runs (the index hides its chart alike)."""
        if obj is None or not request.user.has_perm("workflows.view_run"):
            return [fieldset for fieldset in self.fieldsets if fieldset[0] != "Runs"]
        return self.fieldsets

    @admin.display(description="Runs per day")
    def chart(self, workflow: Workflow) -> str:
        if not workflow.pk:
            return "-"
        return render_to_string("admin/workflows/runs_chart.html", runs_chart(workflow.pk))

    def save_model(self, request, obj: Workflow, form, change) -> None:
        """``services.save_workflow``: the endpoint and the schedule follow, as in the API.

        When a trigger or connection change cleared the samples, the page says so.
        """
        services.save_workflow(obj)
        if obj.samples_cleared:
            messages.warning(request, obj.samples_cleared)

    def delete_model(self, request, obj: Workflow) -> None:
        services.delete_workflow(obj)

    def delete_queryset(self, request, queryset) -> None:
        for workflow in queryset:
            services.delete_workflow(workflow)

    def save_formset(self, request, form, formset, change) -> None:
        super().save_formset(request, form, formset, change)
        for warning in getattr(formset, "warnings", []):
            messages.warning(request, warning)
        for step, _fields in getattr(formset, "changed_objects", []):
            if getattr(step, "sample_cleared", False):
                messages.warning(request, services.step_sample_cleared(step))

    def save_related(self, request, form, formsets, change) -> None:
        """With the steps saved: may this user make the workflow act with the key?

        The steps' formset refuses first with a message; this also covers a user
        who sees no steps inline. A refusal is a 403 and the save is rolled back.
        """
        super().save_related(request, form, formsets, change)
        workflow = form.instance
        services.authorize_save(request.user, workflow, has_steps=workflow.steps.exists())
        Workflow.objects.filter(pk=workflow.pk).update(owner=workflow.owner)

    def has_activate_permission(self, request: HttpRequest) -> bool:
        """Activating makes the workflow act with the key: change it and use connections.

        (Admin ORs an action's ``permissions``; one method asks both.)
        """
        return self.has_change_permission(request) and can_use(request.user)

    def has_try_out_permission(self, request: HttpRequest) -> bool:
        """Load sample event (and Test a step): change the workflow and use connections."""
        return self.may_test(request)

    def may_test(self, request: HttpRequest, workflow: Workflow | None = None) -> bool:
        """Test a step and Load sample event: change the workflow and use its connection."""
        connection = workflow.connection if workflow is not None else None
        return self.has_change_permission(request, workflow) and can_use(request.user, connection)

    def may_create_automations(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and can_use(request.user)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        context = {
            "can_create_automations": self.may_create_automations(request),
            **portable_pages.list_context(self, request),
        }
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def may_activate(self, request: HttpRequest, workflow: Workflow) -> bool:
        """The Activate button: as the bulk action, and the use of this workflow's connection."""
        return (
            self.has_activate_permission(request)
            and self.has_change_permission(request, workflow)
            and can_use(request.user, workflow.connection)
        )

    def add_view(self, request: HttpRequest, form_url="", extra_context=None):
        context = {"trigger_fields": trigger_fields_config()}
        return super().add_view(request, form_url, {**context, **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        """The page, with its buttons and the sample event (shown after the steps)."""
        workflow = self.get_object(request, object_id)
        context: dict[str, Any] = {"trigger_fields": trigger_fields_config()}
        if workflow is not None:
            sample = workflow.sample()
            context.update(
                can_test_step=self.may_test(request, workflow),
                can_activate=not workflow.active and self.may_activate(request, workflow),
                can_deactivate=workflow.active and self.has_change_permission(request, workflow),
                sample_rows=tryout.sample_rows(sample),
                sample_json=pretty_json(sample),
                sample_is_catalog=tryout.uses_catalog_sample(workflow),
                can_view_runs=request.user.has_perm("workflows.view_run"),
                hidden_steps=self._hidden_steps(request, workflow),
                **portable_pages.change_context(self, request, workflow),
            )
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def _hidden_steps(self, request: HttpRequest, workflow: Workflow) -> int:
        """How many steps the page leaves out: all of them for a user who may not view
        steps (admin then renders no inline at all), else 0."""
        inline = StepInline(self.model, self.admin_site)
        if inline.has_view_or_change_permission(request, workflow):
            return 0
        return workflow.steps.count()

    @admin.action(description="Activate selected workflows", permissions=["activate"])
    def activate(self, request: HttpRequest, queryset) -> None:
        """Activating makes the workflow act with the key: the user must use it, and owns it
        (``services.set_active``; one refusal rolls back every workflow selected)."""
        self._set_active(request, queryset, True)

    @admin.action(description="Deactivate selected workflows", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset) -> None:
        self._set_active(request, queryset, False)

    def _set_active(self, request: HttpRequest, queryset, active: bool) -> None:
        with transaction.atomic():
            for workflow in queryset:
                services.set_active(workflow, active, request.user)
        word = "activated" if active else "deactivated"
        self.message_user(request, f"{queryset.count()} workflow(s) {word}; endpoint sync queued.")

    @admin.action(
        description="Load sample event (latest from Stripe)",
        permissions=["try_out"],
    )
    def load_sample(self, request: HttpRequest, queryset) -> None:
        for workflow in queryset:
            require_use(request.user, workflow.connection)
        for workflow in queryset:
            source = tryout.load_sample_event(workflow)
            self.message_user(request, f"{workflow}: sample loaded from {source}.")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("automations/", view(self.automations_view), name="workflows_automations"),
            path("<int:pk>/test-step/", view(self.test_step_view), name="workflows_test_step"),
            path(
                "<int:pk>/activate/",
                view(require_POST(self.activate_view)),
                name="workflows_workflow_activate",
            ),
            path(
                "<int:pk>/deactivate/",
                view(require_POST(self.deactivate_view)),
                name="workflows_workflow_deactivate",
            ),
            path(
                "<int:pk>/load-sample/",
                view(require_POST(self.load_sample_view)),
                name="workflows_workflow_load_sample",
            ),
            *editor.urls(self),
            *portable_pages.urls(self),
            *super().get_urls(),
        ]

    def automations_view(self, request: HttpRequest) -> HttpResponse:
        """Popular automations: one click creates an inactive workflow.

        Its steps will use the connection's key: adding workflows and using connections
        are needed (403), and the creator owns it. An unknown template or connection: 404.
        """
        if not self.may_create_automations(request):
            raise PermissionDenied(
                "Creating automations needs to add workflows and use connections."
            )
        if request.method == "POST":
            key = request.POST.get("automation", "")
            if key not in AUTOMATIONS:
                raise Http404(f"No popular automation {key!r}.")
            connection = object_or_404(Connection, request.POST.get("connection"))
            require_use(request.user, connection)
            workflow = create_from_automation(key, connection, owner=request.user)
            self.message_user(request, f"Created {workflow} (inactive): review it, then activate.")
            return HttpResponseRedirect(
                reverse("admin:workflows_workflow_change", args=[workflow.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Popular automations",
            "automations": AUTOMATIONS.values(),
            "connections": Connection.objects.all(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/workflows/automations.html", context)

    def _change_page(self, workflow: Workflow) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:workflows_workflow_change", args=[workflow.pk]))

    def activate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The page's Activate button (POST): as the bulk action, ``services.set_active``.

        403 without the activate permission or the use of the workflow's connection.
        """
        workflow = get_object_or_404(Workflow, pk=pk)
        if not self.may_activate(request, workflow):
            require_use(request.user, workflow.connection)  # names the connection
            raise PermissionDenied("Activating needs to change workflows and use connections.")
        services.set_active(workflow, True, request.user)
        self.message_user(request, f"{workflow} activated; endpoint sync queued.")
        return self._change_page(workflow)

    def deactivate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The page's Deactivate button (POST): changing the workflow is enough (403)."""
        workflow = get_object_or_404(Workflow, pk=pk)
        if not self.has_change_permission(request, workflow):
            raise PermissionDenied("Deactivating needs to change the workflow.")
        services.set_active(workflow, False, request.user)
        self.message_user(request, f"{workflow} deactivated; endpoint sync queued.")
        return self._change_page(workflow)

    def load_sample_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Load sample event for one workflow (POST), as the list's action; back to the page
        it came from (``back`` = "test_step", else the workflow's page). 403 as Test a step.
        """
        workflow = get_object_or_404(Workflow, pk=pk)
        if not self.may_test(request, workflow):
            require_use(request.user, workflow.connection)
            raise PermissionDenied("Loading a sample event needs to change the workflow.")
        source = tryout.load_sample_event(workflow)
        self.message_user(request, f"{workflow}: sample loaded from {source}.")
        if request.POST.get("back") == "test_step":
            return HttpResponseRedirect(reverse("admin:workflows_test_step", args=[workflow.pk]))
        return self._change_page(workflow)

    def test_step_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Run one step for real against the sample event (live mode asks first).

        It sends the connection's key to Stripe: changing the workflow and using its
        connection are needed (403 otherwise). A success is recorded on the step
        (``tryout.test_step``), so the next step can be tested with its output.
        """
        workflow = get_object_or_404(Workflow, pk=pk)
        if not self.may_test(request, workflow):
            require_use(request.user, workflow.connection)  # names the connection
            raise PermissionDenied("Testing a step needs to change the workflow.")
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": f"Test a step of {workflow}",
            "workflow": workflow,
            "live": workflow.connection.mode == Connection.Mode.LIVE,
            "sample_is_catalog": tryout.uses_catalog_sample(workflow),
            "opts": self.model._meta,
        }
        if request.method == "POST":
            step = object_or_404(Step, request.POST.get("step"), workflow=workflow)
            context["tested_step"] = step
            if context["live"] and request.POST.get("confirm_live") != "yes":
                context["error"] = "This connection is in live mode: tick the confirmation first."
            else:
                result = tryout.test_step(step, user=request.user)
                context["result"] = result
                context["shown"] = {
                    part: pretty_json(result[part]) for part in ("input", "output", "error")
                }
        steps = list(workflow.steps.all())
        context["steps"] = steps
        context["next_step"] = self._next_step(steps, context)
        return TemplateResponse(request, "admin/workflows/test_step.html", context)

    @staticmethod
    def _next_step(steps: list[Step], context: dict) -> Step | None:
        """The step to preselect: after a success the one that follows, else the one tried."""
        tested = context.get("tested_step")
        if tested is None:
            return next((step for step in steps if step.sample_output_at is None), None)
        if context.get("result", {}).get("ok"):
            later = [step for step in steps if (step.order, step.pk) > (tested.order, tested.pk)]
            return later[0] if later else tested
        return tested
