"""The exceptions steprun-widgets raises.

Every error derives from :class:`StepRunError`, names the thing at fault (a run id, an output name,
a URL) and never carries a secret: messages are passed through :func:`redact` before they are built.
"""

from __future__ import annotations

import re

__all__ = [
    "StepRunError",
    "ServiceError",
    "ArtifactStoreError",
    "RunNotFoundError",
    "OutputNotFoundError",
    "ActivityFailedException",
    "LoggingError",
    "V1NotSupportedError",
    "V1MemberNotSupportedError",
    "redact",
]

_SECRETS: set[str] = set()
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def register_secret(secret: str | None) -> None:
    """Remember a secret (a token, a password) so that :func:`redact` removes it from any message."""
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret, bearer header and URL password masked."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    text = _BEARER.sub(r"\1***", text)
    return _URL_PASSWORD.sub(r"\1***@", text)


#: A value longer than this is cut in messages (its start, then how long it was).
SHOWN_MAX = 80


def shown(value: object, limit: int = SHOWN_MAX) -> str:
    """``repr(value)`` fit for a message: a long name or value keeps its first characters and says
    how long it was, so a 10,000-character name never makes a 10,000-character error."""
    if isinstance(value, str):
        return repr(value if len(value) <= limit else f"{value[:60]}...({len(value)} characters)")
    text = repr(value)
    return text if len(text) <= limit else f"{text[:60]}...({len(text)} characters)"


class StepRunError(Exception):
    """Base class of every error raised by steprun-widgets."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(str(message)))

    @property
    def message(self) -> str:
        return self.args[0]


class ServiceError(StepRunError):
    """The tracking server could not be reached or answered with an error."""

    def __init__(self, message: str, *, url: str | None = None, status_code: int | None = None,
                 error_code: str | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.url = redact(url) if url else url
        self.status_code = status_code
        self.error_code = error_code
        #: True when trying again later may work: the server could not be reached, did not answer
        #: in time, or answered 5xx/429 (a restart, an overloaded proxy). Waiting loops ride it out.
        self.transient = transient
        #: What the server itself said (MLflow's ``message``, or a page's title), short; "" if none.
        self.server_message = ""


class ArtifactStoreError(ServiceError):
    """The tracking server answered, but could not read a run's artifact store (logs, outputs).

    Status, details and widgets still work; only reading logs and outputs fails, with this error.
    """


class RunNotFoundError(StepRunError):
    """No run, experiment or step with the given id or name exists on the server."""


class OutputNotFoundError(StepRunError):
    """A step run has no output with the given name."""


class ActivityFailedException(StepRunError):
    """A run ended as ``Failed`` while it was being waited for with ``raise_on_error=True``."""

    def __init__(self, message: str, *, run_id: str = "", error: str = "", stderr_tail: str = "") -> None:
        super().__init__(message)
        self.run_id = run_id
        self.error = redact(error)
        self.stderr_tail = redact(stderr_tail)


class LoggingError(StepRunError, ValueError):
    """A step logged something a run cannot hold (a metric that is not a number, a name MLflow
    refuses, a reserved tag...): raised at the ``Run.log`` call, naming the metric, tag or file."""


class V1NotSupportedError(StepRunError, NotImplementedError):
    """An Azure ML SDK v1 name this package does not implement: the message names it, says what to
    do instead and which section of the migration guide explains it."""

    def __init__(self, message: str, *, v1_name: str = "") -> None:
        super().__init__(message)
        #: The v1 name, e.g. ``"Dataset"`` or ``"StepRun.get_file_names"``.
        self.v1_name = v1_name


class V1MemberNotSupportedError(V1NotSupportedError, AttributeError):
    """A v1 method or property a run, workspace or pipeline object here does not have. Also an
    AttributeError, so ``hasattr`` and ``getattr(obj, name, default)`` keep working."""
