"""The one place order_service is wired: database, unit of work, HTTP API."""

import functools

from order_service import api
from order_service.handlers import DECLARATIONS
from order_service.repository import OrderUnitOfWork, create_tables
from shared.runtime.service import ServiceRuntime
from shared.settings import Settings


def bootstrap(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings, DECLARATIONS[settings.mode], functools.partial(
        OrderUnitOfWork, deadline_seconds=settings.order_deadline_seconds), create_tables)
    runtime.app.include_router(api.router(runtime.readers, runtime.execute,
                                          writes=runtime.writes, reads=runtime.reads))
    api.install_error_handlers(runtime.app)
    return runtime
