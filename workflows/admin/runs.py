"""Admin for runs: the record of executions, resume and re-run."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse

from connections.models import Connection
from connections.permissions import can_use, require_use
from konnectify.platform.admin_actions import RefuseForbiddenActions
from workflows import services
from workflows.admin.common import pretty
from workflows.models import Run, StepRun


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
