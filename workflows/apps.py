from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    """Workflows, steps, runs; field mapping, the engine and the background tasks."""

    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from workflows import signals  # noqa: F401  (connects the receivers)
