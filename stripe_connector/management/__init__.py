"""Management commands of the Stripe connector."""
