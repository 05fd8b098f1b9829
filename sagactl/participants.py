"""Everyone who takes part in the choreography, for the docs and the rules check.

The services never import each other; this operator tool is the one place that
sees all of their declarations at once.
"""

from inventory_service.handlers import SERVICE as INVENTORY
from notification_service.handlers import SERVICE as NOTIFICATION
from order_service.handlers import SERVICE as ORDER
from payment_service.handlers import SERVICE as PAYMENT
from shared.choreography import ServiceSpec
from shared.events import FundsDeposited, OrderCreated, StockAdded
from shipping_service.handlers import SERVICE as SHIPPING

OPERATOR = ServiceSpec(
    name="sagactl",
    description="The operator CLI, or any Kafka client (kcat, another language).",
    originates=(OrderCreated, StockAdded, FundsDeposited),
)

PARTICIPANTS = (ORDER, INVENTORY, PAYMENT, SHIPPING, NOTIFICATION, OPERATOR)
SERVICES = (ORDER, INVENTORY, PAYMENT, SHIPPING, NOTIFICATION)
