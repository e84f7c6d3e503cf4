"""Shared fixtures for the SDK compatibility suites.

The endpoint comes from, in order:
  * FCEMU_ENDPOINT (e.g. http://127.0.0.1:9000): use an already running server;
  * FCEMU_OSS_SERVER_CMD: a command that starts a server and prints its address on stdout,
    either as `listening http://ADDR` or as fcemu's `fcemu: ready ... services=http://ADDR`;
  * otherwise the object store's example server, target/debug/examples/oss_server
    (build it with `cargo build -p fcemu-oss --example oss_server`).
"""

import os
import uuid

import pytest

from osscompat import Server


@pytest.fixture(scope="session")
def endpoint():
    given = os.environ.get("FCEMU_ENDPOINT")
    if given:
        yield given.rstrip("/")
        return
    server = Server()
    yield server.endpoint
    server.stop()


@pytest.fixture
def start_server():
    """Starts extra servers (own env, e.g. a persistent FCEMU_DATA_DIR) and stops them after."""
    started = []

    def start(env=None):
        s = Server(env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def s3(endpoint):
    """A boto3 S3 client (SigV4, default checksum settings) for the endpoint."""
    import boto3
    from botocore.client import Config

    from osscompat import AK, SK

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
    )


@pytest.fixture
def bucket_name():
    return "b-" + uuid.uuid4().hex[:20]
