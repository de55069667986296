"""Everything that knows Stripe and nothing of our database: client, catalog, signatures."""
