"""Order bodies for the API, the stock and balances every saga test starts from, and when an
order counts as finished."""

STOCK = {"WIDGET-1": 10, "GADGET-2": 1}
BALANCES = {"alice": "100.00", "bob": "5.00"}
SERVED = {"name": "Ada Lovelace", "street": "1 Main Street", "city": "Berlin", "country": "DE"}
UNSERVED = {"name": "Penguin", "street": "1 Ice Shelf", "city": "McMurdo", "country": "AQ"}


def order_body(customer="alice", sku="WIDGET-1", quantity=2, price="9.95", address=None,
               order_id=None) -> dict:
    body = {"customer_id": customer, "shipping_address": address or SERVED,
            "items": [{"sku": sku, "quantity": quantity, "unit_price": price}]}
    return {**body, "order_id": order_id} if order_id else body


TERMINAL = ("COMPLETED", "CANCELLED")


def is_final(order: dict) -> bool:
    """A final status, and the customer told about it: the saga's last step is done."""
    return order.get("status") in TERMINAL and any(
        entry["event_type"] == "CustomerNotified" for entry in order.get("history", []))
