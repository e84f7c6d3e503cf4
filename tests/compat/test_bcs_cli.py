"""The real `bcs` CLI (batchcompute-cli 1.7.7) under `fcemu exec`, unchanged: it names the
region's real endpoints (`batchcompute.cn-hangzhou.aliyuncs.com`, `oss-cn-hangzhou.aliyuncs.com`)
over plain http, and the sitecustomize `fcemu exec` gives Python programs sends those
connections to fcemu. It logs in, lists instance types and images, creates a cluster, submits a
job (its worker packed and uploaded to OSS by the CLI), and prints the job and its stdout."""

import os
import subprocess
import sys
from pathlib import Path

from batchcompat import REPO

BCS = str(Path(sys.executable).parent / "bcs")

# POST /_fcemu/idle: returns once the job has ended.
IDLE = ("import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open("
        "u.Request(os.environ['FCEMU_ENDPOINT'] + '/_fcemu/idle?timeout=60', method='POST'))")

SCRIPT = f"""
set -e
bcs() {{ "{BCS}" "$@"; }}
bcs config -s false > /dev/null          # plain http: fcemu serves no TLS
bcs login cn-hangzhou test-ak test-secret
bcs set -t ecs.sn1.medium -i img-ubuntu -o oss://bcs-data/cli/
bcs it
bcs i
bcs cc local-pool -i img-ubuntu -t ecs.sn1.medium -n 2
bcs c
bcs sub "echo hello-from-bcs" -t 1
"{sys.executable}" -c "{IDLE}"
job=$(bcs j | grep -o 'job-[0-9A-F]*' | head -n 1)
bcs j "$job"
bcs log "$job"
"""


def test_the_bcs_cli_runs_against_fcemu_exec(tmp_path):
    (tmp_path / "fcemu.toml").write_text('name = "cli"\n[buckets.bcs-data]\n')
    home = tmp_path / "home"
    home.mkdir()
    binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
    env = {k: v for k, v in os.environ.items() if k not in ("HTTP_PROXY", "http_proxy")}
    env.update(HOME=str(home), NO_COLOR="1")
    run = subprocess.run([binary, "exec", "--in-memory", "--", "sh", "-c", SCRIPT], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    out = run.stdout
    assert run.returncode == 0, run.stdout + run.stderr
    assert "login success" in out
    assert "ecs.sn1.medium" in out and "img-ubuntu" in out
    assert "Cluster created: cls-" in out and "local-pool" in out
    assert "Job created: job-" in out
    assert "State: Finished" in out
    assert "hello-from-bcs" in out.split("Stdout [TaskName:task, InstanceId:0]", 1)[1]
    assert "Error in sitecustomize" not in run.stderr


def test_fcemu_exec_python_reaches_fcemu_at_real_endpoints_and_keeps_its_own_sitecustomize(tmp_path):
    (tmp_path / "fcemu.toml").write_text('name = "cli"\n')
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import builtins\nbuiltins.OWN_SITECUSTOMIZE = True\n")
    probe = ("import os, socket, builtins; addr = socket.getaddrinfo('oss-cn-hangzhou.aliyuncs.com', 80)[0][4]; "
             "edge = os.environ['FCEMU_ENDPOINT'].rsplit(':', 1)[1]; "
             "print(addr[0], addr[1] == int(edge), getattr(builtins, 'OWN_SITECUSTOMIZE', False))")
    binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
    env = {**os.environ, "PYTHONPATH": str(own)}
    run = subprocess.run([binary, "exec", "--in-memory", "--", sys.executable, "-c", probe], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["127.0.0.1", "True", "True"]
