"""shipping_service: the pivot — ships paid orders, decides cancellations."""
