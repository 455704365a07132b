"""Fixtures of the artifact-store servers (tests/tracking/_artifact_servers.py), for every test in this folder."""

from tests.tracking._artifact_servers import (  # noqa: F401
    azure_container,
    azurite,
    fake_gcs,
    ftp_server,
    gcs_bucket,
    hdfs_local,
    kind,
    moto_endpoint,
    root_uri,
    s3,
    sftp,
    sftp_server,
)
