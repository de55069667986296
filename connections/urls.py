"""The Stripe webhook receiver: one unguessable URL per connection."""

from django.urls import path

from connections.views import StripeWebhookView

app_name = "connections"

urlpatterns = [
    path(
        "webhooks/stripe/<uuid:connection_id>/",
        StripeWebhookView.as_view(),
        name="stripe-webhook",
    ),
]
