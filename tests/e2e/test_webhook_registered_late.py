"""A webhook gets only the events that happen after it is registered, as on Stripe.

localstripe sends each event ~1 s after it happens, to the webhooks registered
then; the stand-in keeps the next test's webhook from getting the previous one's.
"""

import pytest

from tests.e2e.stack import unique, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_webhook_registered_after_an_event_is_not_sent_that_event(stack):
    localstripe = stack.localstripe
    early, late = unique("e2e-early"), unique("e2e-late")
    urls = {name: f"{stack.web_url}/e2e-nowhere/{name}/" for name in (early, late)}
    localstripe.register_webhook(early, urls[early], "whsec_e2e_early")
    before = localstripe.api("POST", "/v1/customers", {"email": f"{early}@example.com"})
    # Within localstripe's ~1 s wait before it sends the event above.
    localstripe.register_webhook(late, urls[late], "whsec_e2e_late")
    after = localstripe.api("POST", "/v1/customers", {"email": f"{late}@example.com"})

    def customers_sent_to(name: str) -> set[str]:
        return {
            customer["id"]
            for delivery in localstripe.deliveries()
            if delivery["url"] == urls[name] and delivery["type"] == "customer.created"
            for customer in (before, after)
            if customer["id"] in delivery["body"]
        }

    try:
        wait_for(lambda: customers_sent_to(early) == {before["id"], after["id"]})
        wait_for(lambda: customers_sent_to(late) and localstripe.quiet())
    finally:
        localstripe.forget_webhook(early)
        localstripe.forget_webhook(late)

    assert customers_sent_to(late) == {after["id"]}
