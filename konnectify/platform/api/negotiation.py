"""Content negotiation: the API answers in its one representation whatever Accept says.

Every endpoint but the schema has one renderer (JSON); DRF would answer 406 to
``Accept: application/xml``, a status the schema does not list for any operation and
that helps no client (it can only retry without the header). So an Accept that no
renderer matches gets the view's first renderer; one that matches picks it as DRF
does (the schema endpoint: JSON or YAML).
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation


class FirstRendererUnlessAccepted(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        """DRF's choice, or ``(renderers[0], its media type)`` instead of a 406."""
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type
