"""The Stripe webhook receiver: one unguessable URL per connection."""

from django.urls import path

from connections.views import stripe_webhook

app_name = "connections"

# Also matched, before any other middleware, by connections.middleware.
WEBHOOK_ROUTE = "webhooks/stripe/<uuid:connection_id>/"

urlpatterns = [
    path(
        WEBHOOK_ROUTE,
        stripe_webhook,
        name="stripe-webhook",
    ),
]
