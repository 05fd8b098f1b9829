"""The one place notification_service is wired: database, unit of work, read-only HTTP routes."""

from notification_service import api
from notification_service.handlers import DECLARATIONS
from notification_service.repository import NotificationUnitOfWork, create_tables
from shared.runtime.service import ServiceRuntime
from shared.settings import Settings


def bootstrap(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, DECLARATIONS[settings.mode], NotificationUnitOfWork, create_tables)
    runtime.app.include_router(api.router(runtime.readers), dependencies=runtime.reads)
    return runtime
