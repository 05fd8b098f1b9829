"""order_service: the HTTP API for orders, and each order's status and history."""
