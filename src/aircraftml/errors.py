"""The one tree of errors that AircraftML raises.

    AircraftMLError
    ├── ConfigError          a setting is missing or invalid (names the setting)
    ├── TransientError       worth retrying with capped backoff (timeouts, 5xx, dropped links)
    │   └── RateLimited      wait until ``until_epoch_s`` before trying again (HTTP 429)
    └── PermanentError       retrying will not help: dead-letter it, keeping the reason
        ├── PhotoError       a photo that cannot be read (empty, truncated, not an image)
        │   ├── PhotoTooLarge      over the byte or pixel limits
        │   ├── PhotoRefused       our policy will not fetch it (not https, not a media host...)
        │   ├── PhotoTimedOut      its download took longer than the photo time limit
        │   └── PhotoUnavailable   its host answered with an error (404, not an image, empty)
        ├── ModelError       a model file that cannot be loaded or has the wrong layout
        └── DuplicateContent the platform already has this exact post (counts as done)

Third-party exceptions are mapped onto this tree once, at the edge that calls the library.
"""

from __future__ import annotations


class AircraftMLError(Exception):
    """Base of every error AircraftML raises on purpose."""


class ConfigError(AircraftMLError):
    """A setting is missing or invalid; the message names the setting."""


class TransientError(AircraftMLError):
    """A failure that may pass: retry with capped backoff."""


class RateLimited(TransientError):
    """The platform asked us to wait until ``until_epoch_s`` (seconds since the epoch)."""

    def __init__(self, message: str, until_epoch_s: float) -> None:
        super().__init__(message)
        self.until_epoch_s = until_epoch_s


class PermanentError(AircraftMLError):
    """A failure that retrying will not fix: dead-letter the work with this reason."""


class PhotoError(PermanentError):
    """A photo that cannot be used; the base class means it cannot be decoded (empty,
    truncated, not an image). The subclasses say why we did not get to decode it, so that
    a reply can tell the user what happened instead of calling the photo damaged."""


class PhotoTooLarge(PhotoError):
    """A photo over the byte or pixel limits (declared or actual)."""


class PhotoRefused(PhotoError):
    """Our own policy refused to fetch the photo (not https, not a media host, redirects)."""


class PhotoTimedOut(PhotoError):
    """The photo's download, connect to last byte, took longer than the time allowed."""


class PhotoUnavailable(PhotoError):
    """The photo's host answered with an error or with something that is not a photo."""


class ModelError(PermanentError):
    """A model file that is missing, unreadable, or not in a layout we know."""


class DuplicateContent(PermanentError):
    """The platform refused a post as a duplicate of one already made: the work is done."""
