"""How failures are classified where they are raised.

The runtime retries a failed event with backoff only when a retry can help. An error that
will fail the same way every time (an invariant violation, an event a service may not
emit, a message that no longer decodes) is a :class:`PermanentError`: the event is parked
at once with its reason, for a person to look at.
"""


class PermanentError(Exception):
    """Retrying cannot help: park the event at once."""


class TransientError(Exception):
    """Worth retrying: timeouts, unavailable dependencies."""


def is_permanent(error: BaseException) -> bool:
    return isinstance(error, PermanentError)
