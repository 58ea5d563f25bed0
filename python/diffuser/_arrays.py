"""Argument checks shared by the package's functions: every bad value raises diffuser.Error with a
one-line message naming the argument, before any work is done."""

import numbers
import os
import sys

from ._core import Error


def torch_module():
    """torch if the caller has imported it (the package never imports torch for NumPy users)."""
    return sys.modules.get("torch")


def is_torch(x):
    t = torch_module()
    return t is not None and isinstance(x, t.Tensor)


def integer(name, value, lo=None, hi=None, none=False):
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise Error(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise Error(f"{name} must be in [{lo}, {hi}], got {value}")
    if lo is not None and value < lo:
        raise Error(f"{name} must be >= {lo}, got {value}")
    return value


def real(name, value, none=False):
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Error(f"{name} must be a number, got {value!r}")
    return float(value)


def flag(name, value):
    if not isinstance(value, (bool, int)) or value not in (0, 1):
        raise Error(f"{name} must be True or False, got {value!r}")
    return bool(value)


def text(name, value, none=False):
    if value is None and none:
        return None
    if not isinstance(value, str):
        raise Error(f"{name} must be a string, got {value!r}")
    return value


def path(name, value):
    try:
        return os.fspath(value)
    except TypeError:
        raise Error(f"{name} must be a path (str or os.PathLike), got {value!r}") from None


def numbers_list(name, value):
    """A 1-D sequence of numbers (list, tuple, NumPy array, torch tensor) as a list of floats."""
    if is_torch(value):
        value = value.detach().cpu().tolist()
    elif hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise Error(f"{name} must be a sequence of numbers, got {value!r}")
    out = []
    for i, x in enumerate(value):
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise Error(f"{name}[{i}] must be a number, got {x!r}")
        out.append(float(x))
    return out


DEFAULT_HOPS = 5
DEFAULT_ALPHA = 0.1


def coefficients(hops, alpha, theta, heat):
    """(hops, alpha, theta, heat) checked as the CLI checks --hops --alpha --theta --heat: theta
    gives theta_0..theta_K itself, so hops and alpha must stay at their defaults beside it."""
    hops = integer("hops", hops)
    alpha = real("alpha", alpha)
    heat = real("heat", heat, none=True)
    if theta is not None:
        theta = numbers_list("theta", theta)
        if heat is not None:
            raise Error("theta and heat are mutually exclusive")
        if hops != DEFAULT_HOPS:
            raise Error(f"theta gives theta_0..theta_K itself (here K = {len(theta) - 1}); drop hops")
        if alpha != DEFAULT_ALPHA:
            raise Error(f"theta gives theta_0..theta_K itself (here K = {len(theta) - 1}); drop alpha")
    if heat is not None and alpha != DEFAULT_ALPHA:
        raise Error("alpha applies to the PPR coefficients, not to heat")
    return hops, alpha, theta, heat


def threads_arg(threads):
    return integer("threads", threads, 1, 4096, none=True)
