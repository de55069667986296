from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    """Workflows, steps, runs; field mapping, the engine and the background tasks."""

    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        """Tell connections which event types each endpoint needs: those of the active
        workflows. connections sits below workflows and never imports it, so workflows
        registers its answer (``connections.webhooks.provide_event_types_with``)."""
        # Imported here: models may only be imported once the app registry is ready.
        from connections.webhooks import provide_event_types_with
        from workflows.services import active_event_types

        provide_event_types_with(active_event_types)
