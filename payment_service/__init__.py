"""payment_service: customer balances, charges and refunds recorded beside them."""
