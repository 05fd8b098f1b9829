"""Everyone who takes part in the choreography: the services' declarations, all at once.

For the docs, the rules check and the ACLs (sagactl), for who must react to a saga's last
event (the monitor) and for the tools in devtools. It lives above the services, beside the tools
that need it, so that every import arrow points down: the tools import this registry, the
registry imports the services, the services import ``shared`` — and ``shared`` imports none of
them (a unit test parses every module in ``shared`` to keep it so).
"""

from fraud_service.handlers import COMMANDED as FRAUD_COMMANDED
from fraud_service.handlers import SERVICE as FRAUD
from inventory_service.handlers import COMMANDED as INVENTORY_COMMANDED
from inventory_service.handlers import SERVICE as INVENTORY
from notification_service.handlers import COMMANDED as NOTIFICATION_COMMANDED
from notification_service.handlers import SERVICE as NOTIFICATION
from orchestrator_service.handlers import SERVICE as ORCHESTRATOR
from order_service.handlers import COMMANDED as ORDER_COMMANDED
from order_service.handlers import SERVICE as ORDER
from payment_service.handlers import COMMANDED as PAYMENT_COMMANDED
from payment_service.handlers import SERVICE as PAYMENT
from shared.choreography import ServiceSpec
from shared.events import FundsDeposited, OrderCreated, StockAdded
from shipping_service.handlers import COMMANDED as SHIPPING_COMMANDED
from shipping_service.handlers import SERVICE as SHIPPING

OPERATOR = ServiceSpec(
    name="sagactl",
    description="The operator CLI, or any Kafka client (kcat, another language).",
    originates=(OrderCreated, StockAdded, FundsDeposited),
)

#: The services, in the order of the saga's latest flow (fraud_service screens from version 2 on).
SERVICES = (ORDER, INVENTORY, FRAUD, PAYMENT, SHIPPING, NOTIFICATION)
PARTICIPANTS = (*SERVICES, OPERATOR)

#: The same participants when orchestrator_service runs the saga (SAGA_MODE=orchestrated):
#: the orchestrator first, then each service's orchestrated declaration.
ORCHESTRATED_SERVICES = (ORCHESTRATOR, ORDER_COMMANDED, INVENTORY_COMMANDED, FRAUD_COMMANDED,
                         PAYMENT_COMMANDED, SHIPPING_COMMANDED, NOTIFICATION_COMMANDED)
#: Who runs in each mode (SAGA_MODE).
SERVICES_IN = {"choreographed": SERVICES, "orchestrated": ORCHESTRATED_SERVICES}
