"""notification_service: one notification per order outcome, never two."""
