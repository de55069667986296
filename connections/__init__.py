"""Stripe connections, their webhook endpoints, the webhook receiver and the event inbox."""
