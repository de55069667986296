from django.apps import AppConfig


class KonnectifyConfig(AppConfig):
    """The project wiring: system checks, healthcheck, URLs and the commands that
    assemble the apps (bootstrap, demo, serve). It has no models; the shared
    platform code and its models are the ``konnectify.platform`` app (label
    "konnectify")."""

    name = "konnectify"
    label = "project"
    verbose_name = "Konnectify project"

    def ready(self) -> None:
        # Imported here: the checks read models, importable only once the registry is ready.
        from konnectify import checks  # noqa: F401  (registers the system checks)
