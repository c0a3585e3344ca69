"""What an MLflow run accepts, checked where a step logs (so its script gets the error at its call).

The numbers are MLflow's own (``mlflow/utils/validation.py``), read in the source of the oldest
and the newest supported servers (2.9.2 and 3.x); where they differ the stricter one is used:

* one ``runs/log-batch`` request: at most 1,000 metrics, 100 params, 100 tags, 1,000 entities in
  all, and 1,000,000 bytes of JSON (the server checks the body length);
* a metric, param or tag key: at most 250 characters, only letters/digits/``_``, ``/``, ``.``,
  ``-`` and spaces (3.x also allows ``:``; 2.9 does not), and it must not change under
  ``posixpath.normpath`` (no ``//``, leading ``/``, trailing ``/``, ``.`` or ``..`` parts);
* a param value: 6,000 characters; a tag value: 5,000 on 2.9 (8,000 on 3.x).
"""

from __future__ import annotations

import math
import numbers
import posixpath
import re

from steprun_widgets.errors import LoggingError, shown

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_REQUEST_BYTES = 1_000_000
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 5000
_KEY_CHARS = re.compile(r"^[/\w.\- ]*$")
_INT64 = 2 ** 63


def check_key(kind: str, name: object) -> str:
    """``name`` when MLflow accepts it as a metric/param/tag key; else LoggingError naming it."""
    if not isinstance(name, str):
        raise LoggingError(f"{kind} name {name!r} is a {type(name).__name__}, not a str")
    name_shown = shown(name)
    if not name:
        raise LoggingError(f"{kind} name is empty")
    if len(name) > MAX_KEY_LENGTH:
        raise LoggingError(f"{kind} name {name_shown} has {len(name)} characters; MLflow allows at "
                           f"most {MAX_KEY_LENGTH}")
    if not _KEY_CHARS.match(name):
        raise LoggingError(f"{kind} name {name_shown}: MLflow allows only letters, digits, '_', '-', "
                           "'.', '/' and spaces in names")
    norm = posixpath.normpath(name)
    if norm != name or norm.startswith(("/", "..")) or norm == ".":
        raise LoggingError(f"{kind} name {name_shown}: MLflow refuses names that change as a file path "
                           f"(it would be {norm!r}): no '//', leading or trailing '/', '.' or '..' parts")
    return name


def metric_value(name: str, value: object) -> float:
    """The float MLflow stores for ``value``: bool is 1.0/0.0, numpy and other real scalars via
    ``__float__``; NaN and ±inf stay as they are. Anything else is a LoggingError naming the metric."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (str, bytes)) or value is None or (
            isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real)):
        raise LoggingError(f"Metric {name!r}: value {value!r} is a {type(value).__name__}, not a "
                           "number (MLflow metrics are 64-bit floats; record text with run.tag)")
    if not isinstance(value, numbers.Real) and not hasattr(type(value), "__float__"):
        raise LoggingError(f"Metric {name!r}: value of type {type(value).__name__} is not a number")
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        raise LoggingError(f"Metric {name!r}: value {value!r} is too large for a 64-bit float") from None
    except (TypeError, ValueError) as exc:
        raise LoggingError(f"Metric {name!r}: value {value!r} is not a number ({exc})") from None


def metric_step(name: str, step: object) -> int:
    """``step`` as the 64-bit integer MLflow stores; a LoggingError naming the metric otherwise."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) and not hasattr(step, "__index__"):
        raise LoggingError(f"Metric {name!r}: step {step!r} is not an integer")
    step = int(step.__index__())  # type: ignore[union-attr]
    if not -_INT64 <= step < _INT64:
        raise LoggingError(f"Metric {name!r}: step {step} does not fit in a 64-bit integer")
    return step


def check_text(kind: str, text: object, limit: int = MAX_TAG_VALUE_LENGTH) -> str:
    """A str of at most ``limit`` characters (a tag value, a description)."""
    if not isinstance(text, str):
        raise LoggingError(f"{kind} must be a str, got {type(text).__name__}")
    if len(text) > limit:
        raise LoggingError(f"{kind} has {len(text)} characters; MLflow allows at most {limit}")
    return text


def bounded(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, ending with a note of the full length when cut."""
    if len(value) <= limit:
        return value
    note = f"... [truncated: {len(value)} characters]"
    return value[:limit - len(note)] + note


def wire_float(value: float) -> float | str:
    """A float as MLflow's JSON API takes it: NaN and ±inf as protobuf's string spellings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
