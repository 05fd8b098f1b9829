"""The one place inventory_service is wired: database, unit of work, read-only HTTP routes."""

from inventory_service import api
from inventory_service.handlers import DECLARATIONS
from inventory_service.repository import InventoryUnitOfWork, create_tables
from shared.runtime.service import ServiceRuntime
from shared.settings import Settings


def bootstrap(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, DECLARATIONS[settings.mode], InventoryUnitOfWork, create_tables)
    runtime.app.include_router(api.router(runtime.readers), dependencies=runtime.reads)
    return runtime
