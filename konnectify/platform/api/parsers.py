"""The API's JSON parser: DRF's, with the product's one bound on JSON (stripe_connector.jsonbounds).

DRF's own parser catches only ValueError: a body nested past what json can read
(RecursionError) answered 500, and what it read (deep nesting, ``1e400`` as infinity)
failed later, in the catalog, the mapping checks or the database.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser, get_encoding

from stripe_connector.jsonbounds import JSONProblem, loads


class BoundedJSONParser(JSONParser):
    """``application/json`` bodies read by ``jsonbounds.loads``.

    A problem in a field is a 400 validation error naming it (``input.metadata``:
    nested deeper than 64 levels, not a finite number); a body that is not JSON is
    a 400 parse error.
    """

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            return loads(stream.read().decode(encoding))
        except UnicodeDecodeError:
            raise ParseError(f"The body is not {encoding} text.") from None
        except JSONProblem as exc:
            if exc.field:
                raise ValidationError({exc.field: [exc.reason]}) from None
            raise ParseError(f"The body {exc.reason}.") from None
