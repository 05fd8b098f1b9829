"""sagactl: publish saga events, place and follow orders, seed data, inspect dead letters."""
