"""Flavors never reach up into autolog, not even by a module name in a string (importlib, hooks)."""

from __future__ import annotations

import pathlib

import tracklet.flavors

FLAVORS_DIR = pathlib.Path(tracklet.flavors.__file__).parent


def test_no_flavor_module_names_autolog():
    offenders = [p.name for p in sorted(FLAVORS_DIR.glob("*.py")) if "tracklet.autolog" in p.read_text()]
    assert offenders == []
