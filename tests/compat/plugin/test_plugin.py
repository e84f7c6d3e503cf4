"""The pytest plugin's fixtures with the real SDK: a clean emulator per test, the endpoints in
the environment, and snapshots of a whole chain in fcemu test's format."""

import os
import types

import oss2
import pytest

from fcemu_pytest import SnapshotMismatch


def uploads(fcemu):
    return oss2.Bucket(oss2.Auth(*fcemu.credentials), os.environ["FCEMU_ENDPOINT"], "uploads", is_cname=True)


def test_an_upload_and_what_it_caused_is_snapshotted(fcemu):
    uploads(fcemu).put_object("in/hello.txt", b"hello")
    fcemu.snapshot("upload")  # snapshots/test_an_upload_and_what_it_caused_is_snapshotted-upload.snap
    (call,) = fcemu.invocations(function="echo")
    assert call["status"] == "success"


def test_each_test_starts_from_a_clean_emulator(fcemu):
    assert list(oss2.ObjectIterator(uploads(fcemu))) == []
    assert fcemu.invocations() == []


def test_a_different_outcome_fails_with_a_diff(fcemu, tmp_path):
    fake = types.SimpleNamespace(fspath=tmp_path / "test_fake.py", name="test_fake")
    real, fcemu._node = fcemu._node, fake
    try:
        uploads(fcemu).put_object("in/a.txt", b"a")
        with pytest.raises(SnapshotMismatch, match="no snapshot"):
            fcemu.snapshot("first")
        written = tmp_path / "snapshots" / "test_fake-first.snap.new"
        assert "function: echo" in written.read_text()
        written.rename(tmp_path / "snapshots" / "test_fake-first.snap")
        fcemu.reset()
        uploads(fcemu).put_object("in/a.txt", b"a")
        fcemu.snapshot("first")  # the same outcome after a reset: passes
        fcemu.reset()
        uploads(fcemu).put_object("in/b.txt", b"b")
        with pytest.raises(SnapshotMismatch, match=r"\+.*in/b.txt"):
            fcemu.snapshot("first")
    finally:
        fcemu._node = real
