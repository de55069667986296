from django.apps import AppConfig


class StripeConnectorConfig(AppConfig):
    """The Stripe HTTP client, the catalog of triggers and actions, webhook signatures."""

    name = "stripe_connector"
    verbose_name = "Stripe connector"
