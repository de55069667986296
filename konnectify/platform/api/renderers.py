"""The API's JSON renderer: DRF's, answering even when stored text is not UTF-8-encodable.

Every JSON entry point refuses a lone UTF-16 surrogate (``"\\ud800"``:
``stripe_connector.jsonbounds``), but a value stored before that check (SQLite keeps
it) would make DRF's renderer, which writes non-ASCII text as is, fail to encode the
answer: a 500 for every list showing it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON (UTF-8, non-ASCII text as is); a lone surrogate written as its escape.

    The escape (``"\\ud800"``) is the JSON a client's parser reads back as the value
    stored; only an answer holding one is written that way, every other one is
    DRF's byte for byte.
    """

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _EscapingJSONRenderer().render(data, accepted_media_type, renderer_context)


class _EscapingJSONRenderer(renderers.JSONRenderer):
    """DRF's renderer writing every character past ASCII as a JSON escape."""

    ensure_ascii = True
