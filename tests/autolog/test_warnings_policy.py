"""The warning filters of pyproject.toml: a deprecation raised from tracklet's own code fails the test (API
drift of a framework is caught early); one raised from a third-party module is only reported."""

from __future__ import annotations

import warnings

import pytest


@pytest.mark.parametrize("category", [DeprecationWarning, PendingDeprecationWarning, FutureWarning])
def test_a_deprecation_attributed_to_our_code_is_an_error(category):
    with pytest.raises(category):
        warnings.warn_explicit("drift", category, "x.py", 1, module="tracklet.autolog.sklearn._training")


def test_a_deprecation_inside_a_third_party_module_is_not_an_error():
    with pytest.warns(DeprecationWarning):
        warnings.warn_explicit("drift", DeprecationWarning, "x.py", 1, module="sklearn.utils")
