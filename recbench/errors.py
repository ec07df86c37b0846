"""The one exception type that ends a run with a readable message instead of a traceback."""


class RecbenchError(Exception):
    """A problem the user can fix: bad input, an impossible value, a missing file.

    The message must name the thing that is wrong and say how to fix it.
    """


class IncompatibleError(RecbenchError):
    """The model cannot run on this dataset or split (features it needs, a time order it reads).

    Nothing is wrong with the model or the data on their own, so a benchmark that sweeps every
    model (``skip_incompatible: true``) skips such a pairing instead of stopping.
    """


def require(condition: bool, message: str, error: type[RecbenchError] = RecbenchError) -> None:
    """Raise ``error`` (a :class:`RecbenchError`) with ``message`` unless ``condition`` holds."""
    if not condition:
        raise error(message)


def require_positive(name: str, value, *, integer: bool = False) -> None:
    """Check a hyperparameter that must be > 0 (and an integer when ``integer``)."""
    kind = "a positive integer" if integer else "a positive number"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if integer:
        ok = ok and float(value).is_integer()
    require(ok, f"{name} must be {kind}, got {value!r}: set it to a value > 0")


def require_fraction(name: str, value, *, closed: bool = False) -> None:
    """Check a probability-like hyperparameter in [0, 1) (or [0, 1] when ``closed``)."""
    upper_ok = value <= 1 if closed else value < 1
    require(
        isinstance(value, (int, float)) and 0 <= value and upper_ok,
        f"{name} must be in [0, 1{']' if closed else ')'}, got {value!r}",
    )
