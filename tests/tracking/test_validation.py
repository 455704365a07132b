import math

import pytest

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import validation as V


@pytest.mark.parametrize("key", ["a", "a/b", "loss:train", "my key", "x-1.2_y", "a" * 250])
def test_valid_keys(key):
    assert V.validate_key(key) == key


@pytest.mark.parametrize(
    "key,rule",
    [
        ("", "must be provided"),
        (None, "must be provided"),
        ("a" * 251, "exceeds the limit of 250"),
        ("a//b", "normalized relative path"),
        ("../x", "normalized relative path"),
        ("/abs", "normalized relative path"),
        ("a/./b", "normalized relative path"),
        ("a/", "normalized relative path"),
        ("bad$char", "may only contain"),
        (3, "must be a string"),
    ],
)
def test_invalid_keys_name_the_rule(key, rule):
    with pytest.raises(InvalidParameterValue, match=rule):
        V.validate_key(key, "metric")


def test_metric_values():
    assert V.validate_metric("m", 1, 0, None) == ("m", 1.0, 0, 0)
    assert math.isnan(V.validate_metric("m", float("nan"), 0, 0)[1])
    assert V.validate_metric("m", float("-inf"), 0, 0)[1] == float("-inf")
    for bad in (True, "1.0", None, [1]):
        with pytest.raises(InvalidParameterValue, match="metric values must be numeric"):
            V.validate_metric("m", bad, 0, 0)
    with pytest.raises(InvalidParameterValue, match="timestamp"):
        V.validate_metric("m", 1.0, -1, 0)
    with pytest.raises(InvalidParameterValue, match="step"):
        V.validate_metric("m", 1.0, 0, 1.5)


def test_numpy_scalars_are_metrics():
    np = pytest.importorskip("numpy")
    assert V.validate_metric("m", np.float32(0.5), 0, np.int64(3)) == ("m", 0.5, 0, 3)


def test_value_limits():
    V.validate_param("p", "x" * 6000)
    with pytest.raises(InvalidParameterValue, match="6000"):
        V.validate_param("p", "x" * 6001)
    V.validate_tag("t", "x" * 8000)
    with pytest.raises(InvalidParameterValue, match="8000"):
        V.validate_tag("t", "x" * 8001)


def test_batch_limits():
    from tracklet.entities import Metric, Param, RunTag

    with pytest.raises(InvalidParameterValue, match="at most 1000 metrics"):
        V.validate_batch([Metric("m", 1.0, 0, i) for i in range(1001)], [], [])
    with pytest.raises(InvalidParameterValue, match="at most 100 params"):
        V.validate_batch([], [Param(f"p{i}", "v") for i in range(101)], [])
    with pytest.raises(InvalidParameterValue, match="at most 100 tags"):
        V.validate_batch([], [], [RunTag(f"t{i}", "v") for i in range(101)])
    with pytest.raises(InvalidParameterValue, match="Duplicate parameter key 'p'"):
        V.validate_batch([], [Param("p", "1"), Param("p", "2")], [])


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../b", "..", "C:/x"])
def test_artifact_paths_cannot_escape(path):
    with pytest.raises(InvalidParameterValue, match="artifact"):
        V.validate_artifact_path(path)


def test_artifact_paths_normalised():
    assert V.validate_artifact_path("a/b/../c") == "a/c"
    assert V.validate_artifact_path(None) == ""
    assert V.validate_artifact_path(".") == ""
