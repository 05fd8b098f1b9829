"""orchestrator_service: runs each order saga by command (SAGA_MODE=orchestrated)."""
