"""Form fields shared by the apps' admin forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString

from stripe_connector.jsonbounds import JSONProblem, check, loads


class BoundedJSONField(forms.JSONField):
    """Django's JSON field read by ``jsonbounds.loads``, the product's one bound on JSON.

    Django's own reads nesting until RecursionError (a 500) and ``1e400`` as infinity
    (which the database refuses: another 500). Here both are form errors naming the
    place in the value (``metadata.a``): nesting deeper than 64 levels, numbers that
    are not finite.
    """

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values:
            return super().to_python(value)
        try:
            if isinstance(value, str):
                value = loads(value)
            else:
                check(value)
        except JSONProblem as exc:
            raise ValidationError(
                "Enter valid JSON: %(problem)s.", code="invalid", params={"problem": str(exc)}
            ) from None
        return JSONString(value) if isinstance(value, str) else value

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return loads(data)
        except JSONProblem:
            return InvalidJSONInput(data)
