class LocalPostgresError(RuntimeError):
    """The local PostgreSQL could not be prepared, started or stopped; the message says why."""
