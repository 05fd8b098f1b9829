"""Everyone who takes part in the choreography: the services' declarations, all at once.

For the docs, the rules check and the ACLs (sagactl), and for who must react to a saga's last
event (the monitor). The services never import each other, and none of them imports this
module: it is the one module in ``shared`` that imports the services, so it cannot live in
``shared.choreography``, which every service imports while it declares itself.
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
