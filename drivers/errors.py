"""Driver error hierarchy: codec errors (bad bytes, dropped and counted) vs link errors."""


class DriverError(Exception):
    """Base of every driver error."""


class FrameError(DriverError):
    """Bytes that are not a valid frame: bad CRC/checksum, truncated, oversized, garbage.

    Codecs raise only this for bad input, so a fuzzer can tell a bug from a rejected frame."""


class LinkTimeout(DriverError):
    """The device did not answer in time (retryable)."""


class PortError(DriverError):
    """The port could not be opened or was lost (device unplugged)."""
