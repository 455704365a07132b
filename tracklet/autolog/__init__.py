"""Autologging: ``tracklet.autolog()`` patches every supported framework's training calls.

``tracklet.autolog`` is both this package and a callable: ``tracklet.autolog(...)`` calls
:func:`tracklet.autolog.core.autolog` whichever way it was reached (the package's module object is made
callable, because importing the package rebinds the attribute ``tracklet.autolog`` to the module).

For integration authors: :mod:`tracklet.autolog.kit` (what every integration shares), :mod:`.registry`
(one line per framework), :mod:`.patching` (``safe_patch``).
"""

from __future__ import annotations

import inspect as _inspect
import sys as _sys
import types as _types

from tracklet.autolog.config import AutologConfig, get_config
from tracklet.autolog.core import autolog


class _CallableModule(_types.ModuleType):
    """The ``tracklet.autolog`` module object: calling it calls :func:`autolog`."""

    def __call__(self, *args, **kwargs):
        return autolog(*args, **kwargs)


def __getattr__(name: str):
    if name == "AutologWarning":  # lazily: the session module loads logging
        from tracklet.autolog.session import AutologWarning

        return AutologWarning
    raise AttributeError(f"module 'tracklet.autolog' has no attribute {name!r}")


_sys.modules[__name__].__class__ = _CallableModule
__signature__ = _inspect.signature(autolog)

# The public names only. Internals live in their modules (the integration table in registry, configure /
# revert_all in core); an integration author's API is tracklet.autolog.kit. Pinned by tests/autolog/test_namespaces.py
__all__ = ["AutologConfig", "AutologWarning", "autolog", "get_config"]
