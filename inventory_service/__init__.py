"""inventory_service: stock per SKU, all-or-nothing reservations, semantic releases."""
