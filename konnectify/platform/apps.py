from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """Shared platform code: API tokens, rate limiting and the API's base classes.

    Its label stays "konnectify" (the label these models had before the project
    wiring and the platform code were split), so the tables, migrations, content
    types and permission codenames (``konnectify.add_apitoken``) are unchanged.
    """

    name = "konnectify.platform"
    label = "konnectify"
    verbose_name = "Konnectify"

    def ready(self) -> None:
        # The connector knows nothing of ours: its requests are counted through its hook.
        from konnectify.platform import metrics
        from stripe_connector.client import observe_requests_with

        observe_requests_with(metrics.stripe_request)
