"""Stripe's deliveries go to the receiver before the middleware meant for people.

First in MIDDLEWARE. A request whose path is a connection's webhook URL is handed to
the receiver at once; everything else goes down the stack as usual. The middleware it
skips serve browsers and API clients (security headers, static files, sessions, CSRF,
authentication, messages, clickjacking, API token throttling, login lockouts); the
receiver uses none of them, and together with URL resolution they were a fifth of a
delivery's time in a web worker (py-spy, docs/BENCHMARKS.md).

Kept: Django's handler around it (``request_started`` and ``request_finished``, which
recycle database connections; an unexpected error is a 500) and the ALLOWED_HOSTS check
CommonMiddleware makes on every request.
"""

from __future__ import annotations

from django.urls.resolvers import RoutePattern

from connections.urls import WEBHOOK_ROUTE
from connections.views import stripe_webhook

# Django's own matcher for the URL in connections/urls.py, converters included.
_WEBHOOK = RoutePattern(WEBHOOK_ROUTE, is_endpoint=True)


class WebhookFirstMiddleware:
    """Answer ``/webhooks/stripe/<connection id>/`` with the receiver, skipping the rest."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        found = _WEBHOOK.match(path[1:]) if path.startswith("/webhooks/") else None
        if found is None:
            return self.get_response(request)
        request.get_host()  # DisallowedHost (400) unless in ALLOWED_HOSTS, as for any request
        _remaining, _args, kwargs = found
        return stripe_webhook(request, **kwargs)
