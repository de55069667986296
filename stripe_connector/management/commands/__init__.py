"""``manage.py stripe_catalog``."""
