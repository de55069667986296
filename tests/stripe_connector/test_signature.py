"""Webhook signature verification: Stripe's ``t=...,v1=...`` scheme."""

import hashlib
import hmac
import json

import pytest
import stripe

from stripe_connector.signature import SignatureError, sign_payload, verify_signature

SECRET = "whsec_test_secret_0123456789abcdef"
OTHER_SECRET = "whsec_other_secret_fedcba9876543210"
NOW = 1_764_000_000
BODY = json.dumps({"id": "evt_1", "type": "customer.created", "note": "café ✓"}).encode()


def expected_v1(payload: bytes, secret: str, timestamp: int) -> str:
    """The signature computed independently of the module under test."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def reason_of(payload, header, secrets=None, tolerance=300, now=NOW) -> str:
    with pytest.raises(SignatureError) as caught:
        verify_signature(payload, header, secrets or [SECRET], tolerance, now=now)
    return caught.value.reason


def test_it_builds_the_header_stripe_sends():
    assert sign_payload(BODY, SECRET, NOW) == f"t={NOW},v1={expected_v1(BODY, SECRET, NOW)}"


def test_it_accepts_a_fresh_genuine_signature():
    assert verify_signature(BODY, sign_payload(BODY, SECRET, NOW), [SECRET], 300, now=NOW) is None


def test_it_rejects_a_tampered_body():
    header = sign_payload(BODY, SECRET, NOW)
    assert reason_of(BODY + b" ", header) == (
        "No signature matches the payload and the signing secret(s)."
    )


def test_it_rejects_a_signature_made_with_another_secret():
    header = sign_payload(BODY, OTHER_SECRET, NOW)
    assert "No signature matches" in reason_of(BODY, header)


def test_it_accepts_any_v1_matching_any_secret_during_a_roll():
    old = expected_v1(BODY, OTHER_SECRET, NOW)
    new = expected_v1(BODY, SECRET, NOW)
    header = f"t={NOW},v1={old},v1={new}"
    verify_signature(BODY, header, [SECRET], 300, now=NOW)
    verify_signature(BODY, f"t={NOW},v1={new}", [OTHER_SECRET, SECRET], 300, now=NOW)


def test_it_ignores_other_schemes_like_v0():
    header = f"t={NOW},v0=deadbeef,v1={expected_v1(BODY, SECRET, NOW)}"
    verify_signature(BODY, header, [SECRET], 300, now=NOW)


def test_it_accepts_a_timestamp_exactly_at_the_tolerance_edge():
    header = sign_payload(BODY, SECRET, NOW - 300)
    verify_signature(BODY, header, [SECRET], 300, now=NOW)
    verify_signature(BODY, sign_payload(BODY, SECRET, NOW + 300), [SECRET], 300, now=NOW)


def test_it_rejects_a_timestamp_older_than_the_tolerance():
    header = sign_payload(BODY, SECRET, NOW - 301)
    assert reason_of(BODY, header) == "Timestamp is too old (301 s, tolerance 300 s)."


def test_it_rejects_a_timestamp_too_far_in_the_future():
    header = sign_payload(BODY, SECRET, NOW + 301)
    assert reason_of(BODY, header) == "Timestamp is in the future (301 s, tolerance 300 s)."


def test_it_uses_the_clock_when_no_now_is_given():
    import time

    header = sign_payload(BODY, SECRET, int(time.time()))
    verify_signature(BODY, header, [SECRET], 300)
    assert "too old" in reason_of(BODY, sign_payload(BODY, SECRET, 1_000), now=None)


@pytest.mark.parametrize("tolerance", [0, -1, -300])
def test_it_refuses_a_tolerance_that_would_disable_the_age_check(tolerance):
    header = sign_payload(BODY, SECRET, NOW)
    with pytest.raises(ValueError, match="tolerance must be a positive"):
        verify_signature(BODY, header, [SECRET], tolerance, now=NOW)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_it_reports_a_missing_header(header):
    assert reason_of(BODY, header) == "Missing Stripe-Signature header."


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("garbage", "expected key=value pairs"),
        (f"v1={'a' * 64}", "no timestamp (t=)"),
        (f"t=abc,v1={'a' * 64}", "the timestamp is not a number"),
        (f"t=-5,v1={'a' * 64}", "the timestamp is not a number"),
        (f"t=1,t=2,v1={'a' * 64}", "more than one timestamp"),
        (f"t={NOW}", "no v1 signature"),
        (f"t={NOW},v1=", "no v1 signature"),
        (f"t={NOW},v0=abc", "no v1 signature"),
        ("t=1," + "v1=ab," * 1000, "too long"),
    ],
)
def test_it_explains_a_malformed_header(header, reason):
    assert reason_of(BODY, header).startswith("Malformed Stripe-Signature header: ")
    assert reason in reason_of(BODY, header)


def test_it_reports_when_no_secret_is_configured():
    header = sign_payload(BODY, SECRET, NOW)
    with pytest.raises(SignatureError, match="No webhook signing secret is configured"):
        verify_signature(BODY, header, [], 300, now=NOW)
    with pytest.raises(SignatureError, match="No webhook signing secret is configured"):
        verify_signature(BODY, header, [""], 300, now=NOW)


def test_it_insists_on_raw_bytes():
    header = sign_payload(BODY, SECRET, NOW)
    with pytest.raises(TypeError, match="raw request body"):
        verify_signature(BODY.decode(), header, [SECRET], 300, now=NOW)


def test_it_never_puts_a_secret_in_a_reason():
    cases = [
        ("t=1,v1=x", 300, NOW),
        (sign_payload(BODY, SECRET, NOW - 9999), 300, NOW),
        (sign_payload(BODY, SECRET, NOW + 9999), 300, NOW),
        (sign_payload(b"other", SECRET, NOW), 300, NOW),
        ("nonsense", 300, NOW),
    ]
    for header, tolerance, now in cases:
        with pytest.raises(SignatureError) as caught:
            verify_signature(BODY, header, [SECRET, OTHER_SECRET], tolerance, now=now)
        message = f"{caught.value} {caught.value!r} {caught.value.reason}"
        assert SECRET not in message
        assert OTHER_SECRET not in message


def test_a_header_we_sign_verifies_with_the_official_stripe_library():
    import time

    now = int(time.time())
    header = sign_payload(BODY, SECRET, now)
    assert stripe.WebhookSignature.verify_header(BODY, header, SECRET, tolerance=300) is True


def test_a_header_signed_by_the_official_stripe_library_verifies_with_ours():
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, timestamp=NOW)
    verify_signature(BODY, header, [SECRET], 300, now=NOW)
    with pytest.raises(SignatureError):
        verify_signature(BODY + b"x", header, [SECRET], 300, now=NOW)


def test_the_official_library_rejects_what_we_reject_for_a_tampered_body():
    header = sign_payload(BODY, SECRET, NOW)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY + b"x", header, SECRET)
