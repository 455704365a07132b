"""The ``tracklet`` logger: INFO and above to stderr unless the user configured logging themselves."""

from __future__ import annotations

import logging

_configured = False


def get_logger(name: str = "tracklet") -> logging.Logger:
    global _configured
    root = logging.getLogger("tracklet")
    if not _configured:
        _configured = True
        if not root.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
            root.addHandler(handler)
            root.setLevel(logging.INFO)
            root.propagate = False
    return logging.getLogger(name)
