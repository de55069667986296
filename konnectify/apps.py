from django.apps import AppConfig


class KonnectifyConfig(AppConfig):
    """The project itself: system checks, healthcheck and the run command."""

    name = "konnectify"
    verbose_name = "Konnectify"

    def ready(self) -> None:
        from konnectify import checks  # noqa: F401  (registers the system checks)
