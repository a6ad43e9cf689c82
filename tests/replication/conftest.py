"""The replication tests replicate to the session's real SeaweedFS S3 server."""

from tests.s3server import s3_server  # noqa: F401 - the session fixture
