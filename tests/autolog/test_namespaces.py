"""The public namespaces export their public names only (internals stay in their modules), pinned here:
a change to what users can import from these modules is a deliberate edit of this file."""

from __future__ import annotations

import importlib

import pytest

_FLAVOR_NAMESPACE = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
PINNED = {
    "tracklet.autolog": ["AutologConfig", "AutologWarning", "autolog", "get_config"],
    "tracklet.autolog.kit": [
        "INPUT_EXAMPLE_ROWS",
        "IterationLog",
        "Options",
        "arguments",
        "capture_example",
        "dataset_input",
        "declare_autolog",
        "head_rows",
        "log_datasets",
        "log_model",
        "log_params",
        "loggable_args",
        "metric_key",
        "options",
        "raise_callback_error",
        "set_argument",
        "wants_example",
        "warn",
    ],
    **{f"tracklet.{fw}": _FLAVOR_NAMESPACE for fw in ("sklearn", "xgboost", "lightgbm", "keras", "tensorflow")},
}
INTERNALS = {"INTEGRATIONS", "Integration", "configure", "revert_all", "install", "session", "patching"}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_all_is_pinned_and_public(name):
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(PINNED[name])
    for attr in module.__all__:
        assert not attr.startswith("_") and attr not in INTERNALS
        assert getattr(module, attr) is not None


def test_internals_are_not_reexported_by_the_autolog_package():
    import tracklet.autolog as pkg

    for attr in ("INTEGRATIONS", "Integration", "configure", "revert_all"):
        assert not hasattr(pkg, attr), attr
