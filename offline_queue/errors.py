"""Error hierarchy: retryable (try again later) vs permanent (dead-letter, staff decide)."""


class QueueError(Exception):
    """Base of offline_queue errors."""


class RetryableError(QueueError):
    """Transport failure, 5xx, timeout, unreadable answer: the same bytes go again later."""


class PermanentError(QueueError):
    """The server refused the request for good (4xx): the row goes DEAD, visible to staff."""


class IntegrityError(QueueError):
    """The database failed its integrity check: the terminal locks (docs/promises.md)."""


class Untrusted(RetryableError):
    """An answer that proves nothing (a redirect, a 2xx that does not echo what was sent, the
    kiosk's identity refused): retried, and counted, since in a row it is a fault staff see."""


class TlsRefused(RetryableError):
    """The server did not prove who it is over TLS: nothing was sent that counts."""


class LookupFailed(Exception):
    """A lookup without a usable answer. Base: ``reason`` is the code the screen translates."""

    reason = "lookup_failed"


class NotFound(LookupFailed):
    """The server said no (unknown account or card, a refused number)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreachable(LookupFailed):
    reason = "offline"


class BadAnswer(Unreachable):
    """The server answered something we can't read: treated like no answer, and logged."""


class ApiUnavailable(Exception):
    """A staff query without a usable answer: unreachable, an HTTP error, or a body that is not
    what the contract says."""
