"""The one place orchestrator_service is wired: database, unit of work, read-only HTTP routes."""

from orchestrator_service import api
from orchestrator_service.handlers import DECLARATIONS
from orchestrator_service.repository import OrchestratorUnitOfWork, create_tables
from shared.runtime.service import ServiceRuntime
from shared.settings import Settings


def bootstrap(settings: Settings) -> ServiceRuntime:
    if settings.mode not in DECLARATIONS:
        raise SystemExit("orchestrator_service runs only with SAGA_MODE=orchestrated")
    runtime = ServiceRuntime(settings, DECLARATIONS[settings.mode], OrchestratorUnitOfWork,
                             create_tables)
    runtime.app.include_router(api.router(runtime.readers), dependencies=runtime.reads)
    return runtime
