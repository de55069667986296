from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    """Workflows, steps, runs; field mapping, the engine and the background tasks."""

    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        """Tell connections which event types each endpoint needs: those of the active
        workflows. connections sits below workflows and never imports it, so workflows
        registers its answer (``connections.webhooks.provide_event_types_with``), and
        what dispatches an inbox event again (``connections.inbox.redispatch_with``)."""
        # Imported here: models may only be imported once the app registry is ready.
        from django.contrib.auth import get_permission_codename

        from connections.inbox import Redispatcher, redispatch_with
        from connections.webhooks import provide_event_types_with
        from workflows.models import Run
        from workflows.redispatch import dispatch_again_from_admin, rerun_event_runs
        from workflows.services import active_event_types, require_redispatch

        provide_event_types_with(active_event_types)
        # Admin's "Dispatch again" (in connections) creates runs now, as the API does.
        add_run = f"{Run._meta.app_label}.{get_permission_codename('add', Run._meta)}"
        redispatch_with(
            Redispatcher(
                permission=add_run,
                dispatch=dispatch_again_from_admin,
                rerun=rerun_event_runs,
                authorize=require_redispatch,
            )
        )
