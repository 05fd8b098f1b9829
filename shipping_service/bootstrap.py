"""The one place shipping_service is wired: database, unit of work, read-only HTTP routes."""

from shared.runtime.service import ServiceRuntime
from shared.settings import Settings
from shipping_service import api
from shipping_service.handlers import DECLARATIONS
from shipping_service.repository import ShippingUnitOfWork, create_tables


def bootstrap(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, DECLARATIONS[settings.mode], ShippingUnitOfWork, create_tables)
    runtime.app.include_router(api.router(runtime.readers), dependencies=runtime.reads)
    return runtime
