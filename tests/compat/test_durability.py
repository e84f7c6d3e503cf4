"""Durability of the object store's example server with a persistent data directory:
kill -9 during a stream of writes loses nothing that was acknowledged, and a large upload is
streamed to disk rather than held in memory."""

import hashlib
import os
import threading

import oss2
import pytest

from osscompat import AK, SK


def rss_peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def test_kill_9_during_writes_keeps_every_acknowledged_object(start_server, tmp_path):
    data_dir = tmp_path / "data"
    env = {"FCEMU_DATA_DIR": str(data_dir)}
    server = start_server(env)
    auth = oss2.Auth(AK, SK)
    bucket = oss2.Bucket(auth, server.endpoint, "crash")
    bucket.create_bucket()

    acked = {}
    # The last write sent for each key: a write in flight at the kill may or may not have been
    # applied, so the key then holds either its acknowledged body or this one.
    attempted = {}
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def writer(n):
        b = oss2.Bucket(auth, server.endpoint, "crash", connect_timeout=5)
        i = 0
        while not stop.is_set():
            key = f"w{n}/obj-{i:05d}"
            body = os.urandom(1000 + (i * 7919) % 300_000)
            try:
                target = f"w{n}/obj-{i - 1:05d}" if i % 5 == 4 else key
                with lock:
                    attempted[target] = hashlib.md5(body).hexdigest()
                if i % 5 == 4:
                    # Overwrites race with the kill too.
                    b.put_object(target, body)
                    with lock:
                        acked[f"w{n}/obj-{i - 1:05d}"] = hashlib.md5(body).hexdigest()
                else:
                    b.put_object(key, body)
                    with lock:
                        acked[key] = hashlib.md5(body).hexdigest()
                        if len(acked) >= 60:
                            enough.set()
            except Exception:
                return
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    assert enough.wait(timeout=120), "the writers made no progress"
    server.kill()  # in the middle of the writers' requests
    stop.set()
    for t in threads:
        t.join()
    with lock:
        snapshot = dict(acked)
        in_flight = dict(attempted)

    restarted = start_server(env)
    b = oss2.Bucket(auth, restarted.endpoint, "crash")
    for key, md5 in snapshot.items():
        got = hashlib.md5(b.get_object(key).read()).hexdigest()
        assert got in (md5, in_flight[key]), key
    # Every listed object is readable, and matches its ETag.
    listed = list(oss2.ObjectIterator(b))
    assert len(listed) >= len(snapshot)
    for obj in listed:
        body = b.get_object(obj.key).read()
        assert hashlib.md5(body).hexdigest().upper() == obj.etag
    # No blob files are left without metadata.
    blobs = [f for d in (data_dir / "oss" / "blobs").iterdir() for f in d.iterdir()]
    assert len(blobs) == len(listed)


def test_large_upload_is_streamed(start_server, tmp_path):
    size = int(os.environ.get("FCEMU_LARGE_UPLOAD_MB", "1024")) * 1024 * 1024
    server = start_server({"FCEMU_DATA_DIR": str(tmp_path / "data")})
    bucket = oss2.Bucket(oss2.Auth(AK, SK), server.endpoint, "large")
    bucket.create_bucket()
    chunk = os.urandom(1024 * 1024)
    md5 = hashlib.md5()

    def body():
        sent = 0
        while sent < size:
            md5.update(chunk)
            sent += len(chunk)
            yield chunk

    r = bucket.put_object("large.bin", body())
    assert r.etag == md5.hexdigest().upper()
    assert bucket.head_object("large.bin").content_length == size
    down = hashlib.md5()
    for piece in bucket.get_object("large.bin"):
        down.update(piece)
    assert down.hexdigest() == md5.hexdigest()
    peak = rss_peak_kib(server.proc.pid)
    print(f"server peak RSS after {size >> 20} MiB up and down: {peak} KiB")
    assert peak < 100 * 1024, f"peak RSS {peak} KiB"
