"""What can go wrong while importing, sorted by what should happen next.

- ``Quarantine``: the file itself is broken. It is recorded with the reason and nothing of it is loaded;
  the import goes on with the other files. The customer fixes the file and uploads it again.
- ``TransientImportError``: the storage or the database failed in a way that may pass (throttling,
  5xx, connection errors, timeouts, a concurrent import). The scheduler retries the import.
- ``TerminalImportError``: retrying changes nothing until someone acts (access denied, no such
  bucket). The message says what to change.
"""

from __future__ import annotations


class Quarantine(Exception):
    """The file cannot be imported; ``reason`` says what is wrong with it and what to change."""

    def __init__(self, reason: str, key: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.key = key
        """The file at fault, when the unit being read has several."""


class ImportFailed(Exception):
    """The import stopped before every file was handled; ``message`` says what to do."""

    transient: bool = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransientImportError(ImportFailed):
    """Retrying later may succeed."""

    transient = True


class TerminalImportError(ImportFailed):
    """Retrying fails the same way until the customer (or an operator) changes something."""


class ObjectReadError(OSError):
    """Reading an object's bytes from storage failed (as opposed to the bytes being bad Parquet).

    Raised from inside the file object handed to the Parquet reader, so the reader can tell a network
    or permission failure (never a reason to quarantine) from a damaged file."""

    def __init__(self, location: str, cause: BaseException):
        super().__init__(f"reading {location} failed: {cause}")
        self.location = location
        self.cause = cause


def is_transient(error: BaseException) -> bool:
    """Whether a failed import is worth retrying (for the scheduler's ``is_transient`` hook)."""
    return isinstance(error, TransientImportError)


class ObjectChanged(ObjectReadError):
    """The object was replaced after it was listed (its ETag no longer matches): what was read of it is
    dropped, and the new version is read again from the start."""


class UnsafeKey(Quarantine):
    """The object's key could name another object once normalised (``..``, ``//``) or lies outside the
    prefix: it is never read, and is quarantined with the reason."""
