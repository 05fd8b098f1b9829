"""fraud_service: screens each order after its stock is reserved and before it is charged."""
