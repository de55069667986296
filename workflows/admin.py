"""Admin for workflows and runs: declarative; the logic lives in services/engine."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from connections.models import Connection
from connections.permissions import can_use, require_use
from konnectify.platform.admin_actions import RefuseForbiddenActions
from konnectify.platform.forms import BoundedJSONField
from stripe_connector.catalog import action_choices as catalog_actions
from stripe_connector.catalog import trigger_choices as catalog_triggers
from workflows import services, tryout
from workflows.automations import AUTOMATIONS, create_from_automation
from workflows.models import SCHEDULE_TRIGGER, Run, Step, StepRun, Workflow
from workflows.templatetags.workflow_charts import runs_chart


def pretty(value: Any) -> str:
    """JSON for people, in a <pre>."""
    if value in (None, "", {}, []):
        return "-"
    return format_html(
        "<pre style='margin:0;white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2)
    )


def object_or_404(model, pk: Any, **filters: Any):
    """``get_object_or_404`` for a key from a form: a malformed one is 404 too, never 500."""
    try:
        return get_object_or_404(model, pk=pk, **filters)
    except (ValueError, ValidationError):
        raise Http404(f"No {model._meta.verbose_name} with id {pk!r}.") from None


def trigger_choices() -> list:
    return [*catalog_triggers(), ("Schedule", [(SCHEDULE_TRIGGER, "Schedule (cron or interval)")])]


def action_choices() -> list:
    return catalog_actions()


class WorkflowForm(forms.ModelForm):
    trigger_key = forms.ChoiceField(label="Trigger", choices=trigger_choices)

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
        )
        # Nesting and numbers within the product's one bound on JSON: never a 500.
        field_classes = {"filters": BoundedJSONField}


class StepForm(forms.ModelForm):
    action_key = forms.ChoiceField(label="Action", choices=action_choices)

    class Meta:
        model = Step
        fields = ("order", "name", "action_key", "input_mapping", "on_failure")
        field_classes = {"input_mapping": BoundedJSONField}


class StepFormSet(forms.BaseInlineFormSet):
    """Checks every mapping against its action's schema and the trigger's sample.

    And whether the user saving (``user``, set by ``StepInline.get_formset``) may make
    the workflow act with its connection's key: an error on the steps if not.
    """

    warnings: list[str]
    user = None

    def clean(self) -> None:
        super().clean()
        self.warnings = []
        forms_in_order = sorted(
            (f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")),
            key=lambda f: f.cleaned_data.get("order") or 0,
        )
        steps = [f.cleaned_data for f in forms_in_order]
        try:
            services.authorize_save(self.user, self.instance, has_steps=bool(steps))
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from None
        if any("action_key" not in step for step in steps):
            return  # field errors already shown
        for form, report in zip(
            forms_in_order, services.check_steps(self.instance, steps), strict=True
        ):
            for error in report.errors:
                form.add_error("input_mapping", f"{error['field'] or 'input'}: {error['message']}")
            name = form.cleaned_data.get("name")
            self.warnings += [f"Step {name}, {w['field']}: {w['message']}" for w in report.warnings]


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet
    extra = 0
    fields = (
        "order",
        "name",
        "action_key",
        "input_mapping",
        "on_failure",
        "action_fields",
        "paths",
    )
    readonly_fields = ("action_fields", "paths")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)  # a new class on every call
        formset.user = request.user
        return formset

    @admin.display(description="The action's fields")
    def action_fields(self, step: Step) -> str:
        rows = tryout.action_fields(step.action_key) if step.pk else []
        if not rows:
            return "Choose an action and save to see its fields."
        return format_html(
            "<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Help</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((r["name"], r["type"], "yes" if r["required"] else "", r["help"]) for r in rows),
            ),
        )

    @admin.display(description="Paths you can reference")
    def paths(self, step: Step) -> str:
        if not step.pk:
            return "-"
        items = tryout.available_paths(step)
        return format_html(
            "<div style='max-height:14em;overflow:auto'>{}</div>",
            format_html_join("", "<code>{{{{ {} }}}}</code> <small>{}</small><br>", items),
        )


@admin.register(Workflow)
class WorkflowAdmin(RefuseForbiddenActions, admin.ModelAdmin):
    form = WorkflowForm
    inlines = [StepInline]
    list_display = ("name", "connection", "trigger_key", "active", "updated_at")
    list_filter = ("active", "connection", "trigger_key")
    search_fields = ("name", "description", "event_type")
    readonly_fields = ("event_type", "sample_reference", "chart")
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
        ("Mapping reference: the sample event", {"fields": ("sample_reference",)}),
        ("Runs", {"fields": ("chart",)}),
    )

    @admin.display(description="Sample event")
    def sample_reference(self, workflow: Workflow) -> str:
        return pretty(workflow.sample()) if workflow.pk else "-"

    @admin.display(description="Runs per day")
    def chart(self, workflow: Workflow) -> str:
        if not workflow.pk:
            return "-"
        return render_to_string("admin/workflows/runs_chart.html", runs_chart(workflow.pk))

    def save_model(self, request, obj: Workflow, form, change) -> None:
        """``services.save_workflow``: the endpoint and the schedule follow, as in the API."""
        services.save_workflow(obj)

    def delete_model(self, request, obj: Workflow) -> None:
        services.delete_workflow(obj)

    def delete_queryset(self, request, queryset) -> None:
        for workflow in queryset:
            services.delete_workflow(workflow)

    def save_formset(self, request, form, formset, change) -> None:
        super().save_formset(request, form, formset, change)
        for warning in getattr(formset, "warnings", []):
            messages.warning(request, warning)

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
        context = {"can_create_automations": self.may_create_automations(request)}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        workflow = self.get_object(request, object_id)
        context = {"can_test_step": workflow is not None and self.may_test(request, workflow)}
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

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

    def test_step_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Run one step for real against the sample event (live mode asks first).

        It sends the connection's key to Stripe: changing the workflow and using its
        connection are needed (403 otherwise).
        """
        workflow = get_object_or_404(Workflow, pk=pk)
        if not self.may_test(request, workflow):
            require_use(request.user, workflow.connection)  # names the connection
            raise PermissionDenied("Testing a step needs to change the workflow.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Test a step of {workflow}",
            "workflow": workflow,
            "steps": workflow.steps.all(),
            "live": workflow.connection.mode == Connection.Mode.LIVE,
            "opts": self.model._meta,
        }
        if request.method == "POST":
            step = object_or_404(Step, request.POST.get("step"), workflow=workflow)
            if context["live"] and request.POST.get("confirm_live") != "yes":
                context["error"] = "This connection is in live mode: tick the confirmation first."
            else:
                context["result"] = tryout.test_step(step)
                context["tested_step"] = step
        return TemplateResponse(request, "admin/workflows/test_step.html", context)


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    can_delete = False
    fields = (
        "order",
        "step_name",
        "action_key",
        "status",
        "attempts",
        "rendered_input",
        "left_out",
        "rendered_output",
        "rendered_error",
        "request_id",
        "idempotency_key",
        "next_attempt_at",
        "duration_ms",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Input")
    def rendered_input(self, step_run: StepRun) -> str:
        return pretty(step_run.input)

    @admin.display(description="Left out (rendered empty)")
    def left_out(self, step_run: StepRun) -> str:
        return ", ".join(step_run.left_out_fields or []) or "-"

    @admin.display(description="Output")
    def rendered_output(self, step_run: StepRun) -> str:
        return pretty(step_run.output)

    @admin.display(description="Error")
    def rendered_error(self, step_run: StepRun) -> str:
        return pretty(step_run.error)


@admin.register(Run)
class RunAdmin(RefuseForbiddenActions, admin.ModelAdmin):
    inlines = [StepRunInline]
    list_display = (
        "id",
        "workflow",
        "connection",
        "event",
        "status",
        "replay",
        "created_at",
        "short_error",
    )
    list_filter = ("status", "workflow", "workflow__connection", "created_at")
    list_select_related = ("workflow__connection", "event")
    date_hierarchy = "created_at"
    search_fields = ("event__stripe_event_id", "=event__object_id", "workflow__name", "error")
    actions = ["resume_selected", "rerun_selected"]
    change_list_template = "admin/workflows/run/change_list.html"
    change_form_template = "admin/workflows/run/change_form.html"
    readonly_fields = (
        "workflow",
        "event",
        "scheduled_for",
        "replay",
        "status",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_resume_permission(self, request: HttpRequest) -> bool:
        """Resuming changes the run and calls Stripe again: ``change_run`` and use."""
        return request.user.has_perm("workflows.change_run") and can_use(request.user)

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        """Re-running creates a run that calls Stripe again: ``add_run`` and use."""
        return request.user.has_perm("workflows.add_run") and can_use(request.user)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        context = {
            "can_resume": self.has_resume_permission(request),
            "can_rerun": self.has_rerun_permission(request),
        }
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    @admin.display(description="Connection", ordering="workflow__connection__name")
    def connection(self, run: Run) -> Connection:
        return run.workflow.connection

    @admin.display(description="Error")
    def short_error(self, run: Run) -> str:
        return run.error[:80]

    @admin.action(description="Resume from failed step", permissions=["resume"])
    def resume_selected(self, request: HttpRequest, queryset):
        return self._confirm(request, queryset, "resume")

    @admin.action(
        description="Re-run from the start (new run, new idempotency keys)", permissions=["rerun"]
    )
    def rerun_selected(self, request: HttpRequest, queryset):
        return self._confirm(request, queryset, "rerun")

    def _confirm(self, request: HttpRequest, queryset, kind: str):
        """An intermediate confirmation page, as admin's delete does; acts on 'confirm'."""
        for run in queryset.select_related("workflow__connection"):
            require_use(request.user, run.workflow.connection)
        if request.POST.get("confirm") == "yes":
            done, refused = replay_runs(queryset, kind)
            self.message_user(request, f"{done} run(s) queued.")
            for message in refused:
                self.message_user(request, message, level=messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Resume from the failed step?"
            if kind == "resume"
            else "Re-run from the start?",
            "runs": queryset,
            "kind": kind,
            "action": f"{kind}_selected" if kind == "resume" else "rerun_selected",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/workflows/run/confirm_replay.html", context)


def replay_runs(runs, kind: str) -> tuple[int, list[str]]:
    """Resume or re-run each run; returns (how many, why others were refused)."""
    done, refused = 0, []
    for run in runs:
        try:
            if kind == "resume":
                services.resume_run(run)
            else:
                new, created = services.start_rerun(run)
                if not created:
                    refused.append(f"Run {run.pk} was re-run already, as run {new.pk}.")
                    continue
            done += 1
        except services.ReplayError as exc:
            refused.append(f"Run {run.pk}: {exc}")
    return done, refused
