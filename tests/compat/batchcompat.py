"""What the BatchCompute compat tests share: `fcemu up` for them, the real SDK's client bound to
it, job and task descriptions, and ways to wait for an instance without polling."""

import concurrent.futures
import os
import select
from pathlib import Path

import requests
from batchcompute import Client

from serverproc import ServerProcess

REPO = Path(__file__).resolve().parents[2]
BUCKET = "batch-data"


def start_fcemu(root, *args):
    """`fcemu up` on port 0 in `root` (its manifest) with `args`; stop() or kill() it."""
    binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
    return ServerProcess([binary, "up", "--no-watch", "--listen", "127.0.0.1:0", *args], cwd=root, what="fcemu up")




def client_for(endpoint, key="test-ak", secret="test-secret"):
    """The SDK's client for fcemu at `endpoint`. The SDK's port is process-global
    (`register_region`), so make the client in the test that uses it."""
    host, port = endpoint.removeprefix("http://").split(":")
    Client.register_region("cn-hangzhou", host, int(port))
    return Client(host, key, secret)


def task(command, **extra):
    t = {"Parameters": {"Command": {"CommandLine": command, "EnvVars": {}},
                        "StdoutRedirectPath": f"oss://{BUCKET}/logs/",
                        "StderrRedirectPath": f"oss://{BUCKET}/logs/"},
         "InstanceCount": 1, "MaxRetryCount": 0, "Timeout": 60,
         "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"}}
    t.update(extra)
    return t


def job(tasks, deps=None, name="job", fail_on_instance_fail=True):
    return {"Name": name, "Priority": 1, "Type": "DAG", "JobFailOnInstanceFail": fail_on_instance_fail,
            "Description": "test", "DAG": {"Tasks": tasks, "Dependencies": deps or {}}}


def wait_final(services, client, job_id):
    """The job once fcemu is idle (`POST /_fcemu/idle` waits for running jobs)."""
    r = requests.post(f"{services}/_fcemu/idle?timeout=60")
    assert r.status_code == 200, r.text
    j = client.get_job(job_id)
    assert j.State in ("Finished", "Failed", "Stopped"), j.State
    return j


def fifo(path):
    """A named pipe an instance writes to when it has started."""
    os.mkfifo(path)
    return path


def read_fifo(path, timeout=30):
    """What an instance wrote to `path`: blocks until it opens the pipe (no polling)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        reading = pool.submit(lambda: Path(path).read_text())
        try:
            return reading.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            with open(path, "w"):  # unblock the reader before failing
                pass
            raise AssertionError(f"no instance wrote to {path} within {timeout} s")


def wait_exit(pid, timeout=10):
    """Returns once process `pid` has exited (a pidfd becomes readable), else fails."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"process {pid} is still running"
    finally:
        os.close(fd)


