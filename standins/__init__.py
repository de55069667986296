"""Stand-ins for outside services, for the tests and ``make demo``: never part of the product."""
