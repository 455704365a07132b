"""HDFS specifics. No Hadoop (namenode, datanode, libhdfs) can be installed from the registries reachable here
(PyPI, Debian, npm), so no test talks to a live HDFS: the repository's every step runs in the shared contract
(test_artifact_repositories.py) over pyarrow's FileSystem API on a local folder, and here: URI parsing and the
error when Java or libhdfs is missing (for real: pyarrow's HadoopFileSystem is asked to connect)."""

from __future__ import annotations

import pytest

from tracklet.exceptions import InvalidParameterValue, TrackletException
from tracklet.tracking.artifacts import get_artifact_repository
from tracklet.tracking.artifacts.hdfs import parse_hdfs_uri

pytest.importorskip("pyarrow.fs")


@pytest.mark.parametrize(
    "uri,expected",
    [
        ("hdfs://namenode:8020/a/b", ("namenode", 8020, "/a/b")),
        ("hdfs://namenode/a/", ("namenode", 0, "/a")),
        ("hdfs:///user/me/mlruns", ("default", 0, "/user/me/mlruns")),
        ("hdfs://nn:9000/d%20e", ("nn", 9000, "/d e")),
    ],
)
def test_uris(uri, expected):
    assert parse_hdfs_uri(uri) == expected


@pytest.mark.parametrize("uri", ["hdfs://nn:port/x", "hdfs://u:secret@nn/x", "hdfs://nn/x?op=1"])
def test_malformed_uris_are_refused(uri):
    with pytest.raises(InvalidParameterValue, match="HDFS artifact URI"):
        get_artifact_repository(uri)


def test_without_java_or_libhdfs_the_error_says_what_is_needed(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    monkeypatch.setenv("ARROW_LIBHDFS_DIR", str(tmp_path / "no-hadoop"))
    monkeypatch.delenv("HADOOP_HOME", raising=False)
    with pytest.raises(TrackletException, match=r"Cannot connect to HDFS at namenode:8020: .*JAVA_HOME.*libhdfs") as e:
        get_artifact_repository("hdfs://namenode:8020/runs")
    assert "\n" not in str(e.value)  # one line, not pyarrow's list of every path it tried
