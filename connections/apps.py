from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    """Connections (one Stripe account + key), webhook endpoints and the event inbox."""

    name = "connections"
    verbose_name = "Stripe connections"
