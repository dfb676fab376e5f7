"""The failures the trainer expects, each carrying the process exit code it maps to."""

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


def failure_line(exc: BaseException) -> str:
    """The one line a failure without an exit code of its own is reported with: MLflow's own errors
    (a tracking store or registry refusing a write) are named as such, anything else as unexpected."""
    if type(exc).__module__.split(".")[0] == "mlflow":
        return f"MLflow refused: {typed_line(exc)}"
    return f"unexpected error: {typed_line(exc)}"
