from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    """Connections (one Stripe account + key), webhook endpoints and the event inbox."""

    name = "connections"
    verbose_name = "Stripe connections"

    def ready(self) -> None:
        # Imported here: models may only be imported once the app registry is ready.
        from django.db.models.signals import post_delete, post_save

        from connections import receiver_cache
        from connections.models import Connection

        post_save.connect(receiver_cache.forget_saved, sender=Connection)
        post_delete.connect(receiver_cache.forget_saved, sender=Connection)
