"""How a platform API call failed, classified for the delivery job's retry policy."""
from __future__ import annotations


class PlatformError(Exception):
    """A platform answered with an error. `code` is the platform's own errcode/code."""
    retryable = False

    def __init__(self, message: str, code: str | int | None = None):
        super().__init__(message)
        self.code = code


class PermanentError(PlatformError):
    """Retrying will not help (bad recipient, no permission, invalid payload)."""


class RetryableError(PlatformError):
    """5xx, timeouts, 'system busy': try again with backoff."""
    retryable = True


class RateLimited(RetryableError):
    def __init__(self, message: str, code: str | int | None = None, retry_after_s: float = 60.0):
        super().__init__(message, code)
        self.retry_after_s = retry_after_s


class CardCodeSpent(PermanentError):
    """WeCom response_code used or expired: the card cannot be updated any more; treat as done."""
