"""The one place payment_service is wired: database, unit of work, read-only HTTP routes."""

from payment_service import api
from payment_service.handlers import DECLARATIONS
from payment_service.repository import PaymentUnitOfWork, create_tables
from shared.runtime.service import ServiceRuntime
from shared.settings import Settings


def bootstrap(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, DECLARATIONS[settings.mode], PaymentUnitOfWork, create_tables)
    runtime.app.include_router(api.router(runtime.readers), dependencies=runtime.reads)
    return runtime
