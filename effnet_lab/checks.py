"""Validation helpers: every bad value is reported with its name, the value and what is allowed.

Pure Python, imported by every layer (config first), so a wrong argument is refused where it is
given, by name, never as a shape error deep in torch.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Union

Resolution = Union[int, tuple[int, int]]


def is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)



def is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)



def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    if not is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)



def check_finite(name: str, value: object, *, positive: bool = False, minimum: float | None = None,
                 maximum: float | None = None) -> float:
    """Return ``value`` as a float, or raise naming ``name``, the value and the allowed range."""
    allowed = "a finite real number"
    if minimum is not None and maximum is not None:
        allowed += f" in [{minimum}, {maximum}]"
    elif minimum is not None:
        allowed += f" >= {minimum}"
    elif maximum is not None:
        allowed += f" <= {maximum}"
    if positive:
        allowed += " > 0"
    if not is_real(value):
        raise TypeError(f"{name} must be {allowed}, got {value!r} of type {type(value).__name__}")
    v = float(value)
    if (not math.isfinite(v) or (positive and v <= 0) or (minimum is not None and v < minimum)
            or (maximum is not None and v > maximum)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return v



def check_fields(what: str, d: object, cls: type) -> None:
    """``d`` must be a dict whose keys are fields of the dataclass ``cls`` (see ``from_dict``)."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} must be a dict of {cls.__name__} fields, got {type(d).__name__}")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(known), key=str)
    if unknown:
        raise ValueError(f"{what} has field(s) {unknown} that this version of effnet_lab does not know "
                         f"(was it written by a newer one?); {cls.__name__} fields: {', '.join(known)}")



def check_resolution(value: object, name: str = "resolution") -> Resolution:
    """Accept a positive int (square input) or an (H, W) pair of positive ints."""
    if is_int(value) and value >= 1:
        return int(value)
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(is_int(v) and v >= 1 for v in value)):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{name} must be a positive integer or a pair (H, W) of positive integers, "
                     f"got {value!r}")



def as_hw(resolution: Resolution) -> tuple[int, int]:
    """(H, W) of a validated resolution."""
    return (resolution, resolution) if isinstance(resolution, int) else resolution



def conv_out(size: int, kernel: int, stride: int) -> int:
    """Output length of a convolution with padding (k - 1) // 2, as in torchvision and timm."""
    pad = (kernel - 1) // 2
    return (size + 2 * pad - kernel) // stride + 1
