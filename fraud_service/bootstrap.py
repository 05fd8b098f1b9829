"""The one place fraud_service is wired: database, unit of work, read-only HTTP routes."""

from fraud_service import api
from fraud_service.handlers import DECLARATIONS
from fraud_service.repository import FraudUnitOfWork, create_tables
from shared.runtime.service import ServiceRuntime
from shared.settings import Settings


def bootstrap(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, DECLARATIONS[settings.mode], FraudUnitOfWork, create_tables)
    runtime.app.include_router(api.router(runtime.readers), dependencies=runtime.reads)
    return runtime
