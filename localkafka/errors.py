class LocalKafkaError(RuntimeError):
    """The local broker could not be prepared, started or stopped; the message says why."""
