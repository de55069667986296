"""Recognising Stripe keys: masked display, test/live mode, secret/restricted kind."""

import pytest

from stripe_connector.client import StripeClient, key_kind, key_mode, mask_key

BODY = "51AbCdEfGhIjKlMnOpQrStUv0123456789"


@pytest.mark.parametrize(
    ("key", "masked", "mode", "kind"),
    [
        (f"sk_test_{BODY}", "sk_test_...6789", "test", "secret"),
        (f"sk_live_{BODY}", "sk_live_...6789", "live", "secret"),
        (f"rk_test_{BODY}", "rk_test_...6789", "test", "restricted"),
        (f"rk_live_{BODY}", "rk_live_...6789", "live", "restricted"),
    ],
)
def test_it_recognises_secret_and_restricted_keys(key, masked, mode, kind):
    assert (mask_key(key), key_mode(key), key_kind(key)) == (masked, mode, kind)


def test_a_short_key_is_masked_without_giving_it_away():
    assert mask_key("sk_test_abc1234") == "sk_test_..."


@pytest.mark.parametrize("func", [mask_key, key_mode, key_kind, StripeClient])
def test_it_refuses_a_publishable_key_without_echoing_it(func):
    key = f"pk_live_{BODY}"
    with pytest.raises(ValueError, match="publishable key") as caught:
        func(key)
    assert BODY not in str(caught.value)


NOT_A_KEY = (
    "This is not a Stripe secret or restricted key: expected sk_test_, sk_live_, "
    "rk_test_ or rk_live_ followed by letters and digits, without spaces."
)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "The Stripe key is empty."),
        (None, "The Stripe key is empty."),
        (f"sk_prod_{BODY}", NOT_A_KEY),
        (f"sk_test_{BODY} ", NOT_A_KEY),
        (f" sk_test_{BODY}", NOT_A_KEY),
        (f"sk_test_{BODY[:10]}-{BODY[10:]}", NOT_A_KEY),
        (f"whsec_{BODY}", NOT_A_KEY),
        (BODY, NOT_A_KEY),
        ("sk_test_", NOT_A_KEY),
    ],
)
def test_it_refuses_a_malformed_key_with_a_message_that_does_not_echo_it(key, message):
    with pytest.raises(ValueError) as caught:
        key_mode(key)
    assert str(caught.value) == message
