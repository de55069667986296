"""The Stripe webhook receiver (placeholder until the receiver lands)."""

from django.http import HttpResponse
from django.views import View


class StripeWebhookView(View):
    """Receives Stripe events for one connection."""

    def post(self, request, connection_id):
        return HttpResponse(status=503)
