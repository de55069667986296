"""Local stand-ins for Stripe, for the demo, end-to-end tests and benchmarks (never production)."""
