"""Errors of the stream package."""


class StreamError(Exception):
    """Root exception of ``monitor.stream``."""


class BrokerStartError(StreamError):
    """The embedded broker did not start (binary missing, port taken, crashed)."""
