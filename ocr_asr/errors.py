"""The one error capture raises: it carries the Chinese sentence the rep will read."""
from __future__ import annotations


class CaptureError(ValueError):
    """Input we refuse (not an image, corrupt audio, too long, ...) or an engine that cannot run.

    `user_message` is Simplified Chinese and goes to the rep verbatim; `str(exc)` is for logs.
    """

    def __init__(self, user_message: str, detail: str = ""):
        super().__init__(detail or user_message)
        self.user_message = user_message
