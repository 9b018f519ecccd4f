"""Error hierarchy: retryable (try again later) vs permanent (dead-letter, staff decide)."""


class QueueError(Exception):
    """Base of offline_queue errors."""


class RetryableError(QueueError):
    """Transport failure, 5xx, timeout, unreadable answer: the same bytes go again later."""


class PermanentError(QueueError):
    """The server refused the request for good (4xx): the row goes DEAD, visible to staff."""


class IntegrityError(QueueError):
    """The database failed its integrity check: the terminal locks (docs/promises.md)."""
