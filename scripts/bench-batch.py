"""BatchCompute figures with the real SDK: trivial one-instance jobs per second (submit to
Finished, one after another), and the overhead per instance beyond its command, against
`/bin/sh -c true` spawned in the same run. Usage: bench-batch.py FCEMU_BINARY"""

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batchcompute import Client

fcemu = sys.argv[1]
root = Path(tempfile.mkdtemp())
(root / "fcemu.toml").write_text('name = "bench"\n')
proc = subprocess.Popen([fcemu, "up", "--in-memory", "--no-watch", "--listen", "127.0.0.1:0"],
                        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
for line in proc.stdout:
    m = re.search(r"services=http://(\S+)", line)
    if m:
        host, port = m.group(1).split(":")
        break
Client.register_region("cn-hangzhou", host, int(port))
c = Client(host, "ak", "sk")


def job(count):
    return {"Name": "bench", "Priority": 1, "Type": "DAG", "JobFailOnInstanceFail": True,
            "DAG": {"Tasks": {"t": {"InstanceCount": count, "Timeout": 60,
                                    "Parameters": {"Command": {"CommandLine": "true"}}}}, "Dependencies": {}}}


def run(count):
    start = time.perf_counter()
    jid = c.create_job(job(count)).Id
    while c.get_job(jid).State not in ("Finished", "Failed"):
        time.sleep(0.002)
    return time.perf_counter() - start


try:
    run(1)
    times = [run(1) for _ in range(30)]
    spawn = []
    for _ in range(30):
        t = time.perf_counter()
        subprocess.run(["/bin/sh", "-c", "true"], check=True)
        spawn.append(time.perf_counter() - t)
    many = run(40)
    sh = statistics.median(spawn) * 1000
    print(f"| trivial one-instance jobs, submit to Finished, one after another | {len(times) / sum(times):.1f} jobs/s (median {statistics.median(times) * 1000:.1f} ms) |")
    print(f"| 40 instances of `true` in one task | {many * 1000:.0f} ms, {many * 1000 / 40:.1f} ms per instance; `/bin/sh -c true` alone {sh:.1f} ms |")
finally:
    proc.terminate()
    proc.wait(timeout=20)
