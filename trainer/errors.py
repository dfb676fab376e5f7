"""The failures the trainer expects, each carrying the process exit code it maps to."""

import os
import re

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONTRACT = 2
EXIT_GATE = 3


class TrainerError(Exception):
    """An expected failure: reported as one line, never as a traceback."""

    exit_code = EXIT_ERROR


class ConfigError(TrainerError):
    """A schema, suite or recipe file is missing, unreadable or inconsistent (exit 1)."""


class ContractError(TrainerError):
    """The data breaks the data contract (exit 2)."""

    exit_code = EXIT_CONTRACT


class GateError(TrainerError):
    """No candidate passed the quality gates, or a promotion was refused (exit 3)."""

    exit_code = EXIT_GATE


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's first line of text (its type name if it has none), at most `limit` characters."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def typed_line(exc: BaseException) -> str:
    """`Type: first line` of an exception, for a message that names what failed."""
    return f"{type(exc).__name__}: {one_line(exc)}"


def causes(exc: BaseException) -> list[BaseException]:
    """The exception, then what it was raised from or during, outermost first (each once)."""
    chain = [exc]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and nxt not in chain:
        chain.append(nxt)
    return chain


def failure_line(exc: BaseException, limit: int = 300) -> str:
    """The one line a failure is reported with (printed, and the run's `failure_reason`): ours as they
    are; one raised in or through MLflow (a store or registry refusing a write, an artifact upload)
    named as MLflow's; anything else as unexpected."""
    if isinstance(exc, TrainerError) or not isinstance(exc, Exception):  # signals: their own words
        return one_line(exc, limit)
    kind = "MLflow error" if raised_in_mlflow(exc) else "unexpected error"
    return f"{kind}: {type(exc).__name__}: {one_line(exc, limit)}"


def failure_reason(exc: BaseException) -> str:
    """What a failed run records (its `failure_reason` tag and description): the failure's line,
    up to 4,900 characters, with the passwords of URLs masked."""
    return redact_uri(failure_line(exc, 4900))


# the userinfo runs to the *last* "@" of the authority, so a password containing "@" is masked whole;
# a user part without a password is masked too: it is often a token (`https://TOKEN@host`)
URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^\s/:@]*):[^\s/]*@")
URL_TOKEN = re.compile(r"(\b[a-zA-Z][\w+.-]*://)[^\s/:@]+@")


def redact_uri(text: str) -> str:
    """Mask the password (or the password-less user part) of every URL in a text."""
    return URL_TOKEN.sub(r"\1***@", URL_PASSWORD.sub(r"\1:***@", text))


def raised_in_mlflow(exc: BaseException) -> bool:
    """The exception is MLflow's own, or passed through MLflow's code on its way up."""
    if type(exc).__module__.split(".")[0] == "mlflow":
        return True
    tb = exc.__traceback__
    while tb is not None:
        if f"{os.sep}mlflow{os.sep}" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False
