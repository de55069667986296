"""Masking secrets in what is recorded of an HTTP answer: the step's output, errors, alerts.

A receiver may echo what it was sent, and not always byte for byte: JSON
encoders escape ``/`` as ``\\/`` (PHP) or ``&`` as ``\\u0026`` (Go), a form
echo percent-encodes, a debug page shows the Authorization header base64-encoded,
an answer in UTF-16 puts a NUL between the letters. ``Masker`` finds each secret
in any of these forms, also mixed within one occurrence, and replaces it with
``[redacted]``:

- as written, or with any character written as a JSON escape (``\\uXXXX``,
  ``\\/``, ``\\"``, ``\\\\``), a percent-escape of its UTF-8 bytes (``%2F``, ``+``
  for a space), or an HTML character reference (``&#47;``, ``&#x2f;``);
- with up to three NUL characters between characters (UTF-16 or UTF-32 text
  read as UTF-8);
- base64 (standard and URL-safe alphabets, padded or not) of the secret, also
  inside the base64 of a longer text (``user:password`` of basic auth, a whole
  header line): the characters every alignment of the secret fixes are masked.

It is applied after the answer is decoded (JSON parsed, text decoded in its
charset), so what a reader sees holds no secret whatever the encoding on the wire.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any

MASK = "[redacted]"
# A shorter secret's base64 fragments would mask ordinary text; such a secret is
# still masked as written and in its escaped forms.
MIN_BASE64_SECRET = 6
# Characters a base64 fragment must have at least to be masked.
MIN_BASE64_FRAGMENT = 8
NUL_GAP = "\x00{0,3}"


class Masker:
    """Replaces every secret of ``secrets`` (texts) and its encodings by ``[redacted]``.

    ``masker(value)`` takes text or JSON-like data (dicts, lists, strings; keys
    too) and returns it masked; other values come back as they are. With no
    secret it changes nothing.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
        forms = [_any_escape(secret) for secret in unique]
        fragments = {
            fragment
            for secret in unique
            if len(secret.encode()) >= MIN_BASE64_SECRET
            for fragment in base64_fragments(secret.encode())
        }
        forms += [re.escape(fragment) for fragment in sorted(fragments, key=len, reverse=True)]
        self._pattern = re.compile("|".join(forms)) if forms else None

    def __call__(self, value: Any) -> Any:
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self._pattern.sub(MASK, value)
        if isinstance(value, dict):
            return {self(key): self(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self(item) for item in value)
        return value


def mask_secrets(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (text or JSON-like data) with every secret and its encodings masked."""
    return Masker(secrets)(value)


def _any_escape(secret: str) -> str:
    """A pattern matching ``secret`` with each character as itself or escaped."""
    return NUL_GAP.join(_char_forms(char) for char in secret)


def _char_forms(char: str) -> str:
    code = ord(char)
    forms = [re.escape(char)]
    if code <= 0xFFFF:
        forms.append(r"\\u" + _hex(f"{code:04x}"))
    else:  # a JSON escape of a character outside the BMP is a UTF-16 surrogate pair
        high, low = divmod(code - 0x10000, 0x400)
        forms.append(r"\\u" + _hex(f"{0xD800 + high:04x}") + r"\\u" + _hex(f"{0xDC00 + low:04x}"))
    if char in '/"\\':
        forms.append(re.escape("\\" + char))
    forms.append("".join("%" + _hex(f"{byte:02x}") for byte in char.encode()))
    if char == " ":
        forms.append(r"\+")
    forms.append(f"&#0*{code};")
    forms.append("&#[xX]0*" + _hex(f"{code:x}") + ";")
    return "(?:" + "|".join(forms) + ")"


def _hex(digits: str) -> str:
    """``digits`` matching in either case: ``2f`` gives ``2[fF]``."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in digits)


def base64_fragments(secret: bytes) -> set[str]:
    """The base64 text that ``secret`` fixes wherever it sits in an encoded text.

    For each of the three alignments (0, 1 or 2 bytes before it in its group of
    three), the run of output characters that depend on the secret's bytes only;
    in the standard and URL-safe alphabets. Runs shorter than MIN_BASE64_FRAGMENT
    are left out.
    """
    fragments: set[str] = set()
    for lead in range(3):
        encoded = base64.b64encode(bytes(lead) + secret + bytes(2)).decode()
        start = -(-lead * 8 // 6)  # the first character whose bits all come from the secret
        end = (lead + len(secret)) * 8 // 6  # past the last such character
        fragment = encoded[start:end]
        if len(fragment) >= MIN_BASE64_FRAGMENT:
            fragments.add(fragment)
            fragments.add(fragment.translate(str.maketrans("+/", "-_")))
    return fragments
