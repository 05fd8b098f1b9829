"""The one place order_service is wired: database, unit of work, HTTP API."""

from order_service import api
from order_service.handlers import SERVICE
from order_service.repository import OrderUnitOfWork, create_tables
from shared.runtime.service import ServiceRuntime
from shared.settings import Settings


def bootstrap(settings: Settings) -> ServiceRuntime:
    token = settings.api_token_value()
    if token is None and settings.kafka_security_protocol == "SASL_SSL":
        raise SystemExit("order_service: secure mode needs an API token "
                         "(SAGA_API_TOKEN or SAGA_API_TOKEN_FILE)")
    runtime = ServiceRuntime(settings, SERVICE, OrderUnitOfWork, create_tables)
    runtime.app.include_router(api.router(
        runtime.readers, runtime.execute, write_token=token,
        read_token=token if settings.api_reads_need_token else None))
    api.install_error_handlers(runtime.app)
    return runtime
