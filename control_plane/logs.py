"""Secrets never reach a log, at any level.

At DEBUG, botocore logs request headers (``Authorization``, ``X-Amz-Security-Token``), request bodies (the
``WebIdentityToken``) and response bodies (the role's ``SecretAccessKey`` and ``SessionToken``); google-auth
and urllib3 may log assertions and ID tokens. Rather than trusting every library to stay quiet, each log
record is redacted when it is created, whichever logger made it and whichever handler writes it:

1. every argument (the string form of those that are not numbers) is redacted on its own, so formatters that
   read ``record.args`` (uvicorn's access log) keep working;
2. the formatted message is redacted; if that changes it (a secret in the format string, or split between it
   and an argument), the message is stored formatted and redacted, and the arguments dropped;
3. a traceback is formatted now and redacted, so handlers print the redacted text.

``redacting()`` installs this for a block (the CLI wraps every command in it; tests use it too);
``redact(text)`` is for anything else shown to an operator.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

REDACTED = "[redacted]"

_KEYS = (
    r"(?:aws_)?secret_?access_?key|secret_key|(?:aws_)?session_?token|x-amz-security-token|security_?token"
    r"|web_?identity_?token|id_token|access_token|refresh_token|assertion|client_secret|private_key"
    r"|password|passwd|api_?token|token|signature|x-amz-signature|sig|authorization|cookie|set-cookie"
)
"""Names whose value is a secret, however they are written (``SecretAccessKey``, ``aws_session_token``, ...)."""

_WORDS = r"""[^\s&'",;<>]+(?:[ ][^\s&'",;<>]+)*"""
"""A value after a key: words up to the end of the line, a quote, or a separator (``&``, ``,``, ``;``)."""

WEBHOOK_PATH = re.compile(r"/(?:services|triggers|workflows)/[A-Za-z0-9_/-]+")
"""The secret part of a Slack webhook URL (``/services/T…/B…/…``), wherever it appears."""

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Whole PEM private keys, also inside JSON (escaped newlines), or cut short.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
        REDACTED,
    ),
    # JWTs: Google ID tokens, OAuth assertions.
    (re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    # Our API tokens.
    (re.compile(r"(?<![A-Za-z0-9_-])cst_[A-Za-z0-9_-]{8,}"), REDACTED),
    # AWS session tokens by their shape, wherever they appear.
    (re.compile(r"(?<![A-Za-z0-9/+=])(?:FwoGZXIvYXdz|FQoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=]{16,}"), REDACTED),
    # XML elements (STS answers): <SecretAccessKey>...</SecretAccessKey>.
    (re.compile(rf"(<(?:{_KEYS})>)[^<]*(</)", re.I), rf"\1{REDACTED}\2"),
    # Quoted mapping entries (dict reprs, JSON): 'SessionToken': 'x', "private_key": "x", 'Authorization': b'x'.
    (
        re.compile(rf"""(["'](?:{_KEYS})["']\s*:\s*b?)(["'])(?:\\.|(?!\2)[^\\])*\2""", re.I),
        rf"\1\2{REDACTED}\2",
    ),
    # Headers and key=value pairs: "Authorization: AWS4-HMAC-SHA256 ...", "x-amz-security-token:...",
    # "sig=..." in a URL, "aws_secret_access_key = ...". The value runs to the end of the line or pair.
    (
        re.compile(rf"((?<![A-Za-z0-9_-])(?:{_KEYS})\s*[:=]\s*)(?!\[redacted\]){_WORDS}", re.I),
        rf"\1{REDACTED}",
    ),
    # Bearer tokens without a header name in front.
    (re.compile(r"(\bBearer\s+)(?!\[redacted\])\S+", re.I), rf"\1{REDACTED}"),
    # Webhook URLs: their path is the credential.
    (WEBHOOK_PATH, "/[redacted]"),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"(\b[a-z][a-z0-9+.-]{0,30}://[^/\s:@]{0,200}:)[^@\s/]{1,200}(@)", re.I), rf"\1{REDACTED}\2"),
]


def redact(text: str) -> str:
    """``text`` with every secret it holds replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Redacts a record in place (see the module docstring); never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = _redact_args(record.args)
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # A broken format string: keep what it held, redacted, rather than let logging print raw arguments.
            message = f"{record.msg} {record.args!r}"
            record.msg, record.args = message, ()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redact_args(args: tuple[Any, ...] | Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
    if isinstance(args, Mapping):
        return {key: _redact_value(value) for key, value in args.items()}
    return tuple(_redact_value(value) for value in args)


def _redact_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes):
        text = repr(value)
        redacted = redact(text)
        return value if redacted == text else redacted
    text = value if isinstance(value, str) else str(value)
    redacted = redact(text)
    return value if redacted == text else redacted


class _RedactingFactory:
    """A log record factory that redacts what the factory it wraps makes."""

    def __init__(self, wrapped: Callable[..., logging.LogRecord]):
        self.wrapped = wrapped
        self.filter = RedactSecrets()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.wrapped(*args, **kwargs)
        self.filter.filter(record)
        return record


@contextmanager
def redacting() -> Iterator[None]:
    """Redact every log record created inside the block, from any logger: the record factory is wrapped, so
    handlers installed later (uvicorn's own included) only ever see redacted records. Nested blocks are fine."""
    previous = logging.getLogRecordFactory()
    if isinstance(previous, _RedactingFactory):
        yield
        return
    factory = _RedactingFactory(previous)
    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)
