"""A Python function written for the cloud, run unchanged: an OSS upload triggers it, and inside
it the real oss2, tablestore and aliyun-log SDKs reach fcemu through the region's internal
endpoints with the temporary (STS) credentials FC hands the function. Its print lines land in
the invocation record and in the service's logstore.

The function runs on the `python3` first on PATH: this suite's own interpreter (the venv with
the pinned SDKs), as an activated virtualenv would give it."""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import oss2
import pytest
import requests
import tablestore
from aliyun.log import LogClient

from conftest import READY, REPO
from serverproc import ServerProcess

MANIFEST = """
name = "native-sdks"

[services.media]
log_project = "media-logs"
log_store = "fc"

[functions.thumbs]
service = "media"
runtime = "python3"
code = "{code}"
handler = "thumbs.handler"
timeout = 30
env = {{ OTS_INSTANCE = "gallery", OTS_TABLE = "photos", LOG_PROJECT = "app-logs", LOG_STORE = "thumbs" }}
  [[functions.thumbs.triggers]]
  type = "oss"
  bucket = "uploads"
  events = ["oss:ObjectCreated:*"]
  prefix = "photos/"

[tables.photos]
instance = "gallery"
primary_key = [["key", "STRING"]]

[logstores."app-logs/thumbs"]
shards = 1
"""


@pytest.fixture(scope="module")
def app():
    d = tempfile.TemporaryDirectory()
    Path(d.name, "fcemu.toml").write_text(
        textwrap.dedent(MANIFEST.format(code=REPO / "fixtures" / "python"))
    )
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
    proc = subprocess.Popen(
        [binary, "up", "--listen", "127.0.0.1:0", "--in-memory", "--no-watch",
         "--credentials", "LTAI5tExampleKeyId:an-ordinary-test-secret"],
        cwd=d.name, stdout=subprocess.PIPE, text=True, env=env,
    )
    services = None
    for line in proc.stdout:
        m = READY.search(line)
        if m:
            services = m.group(2)
            break
    assert services, "fcemu up exited before it was ready"
    yield services
    proc.terminate()
    proc.wait(timeout=20)
    d.cleanup()


def pulled(client, project, logstore):
    """Every log of a logstore, read with PullLogs shard by shard."""
    out = []
    for shard in client.list_shards(project, logstore).get_shards_info():
        sid = shard["shardID"]
        begin = client.get_cursor(project, logstore, sid, "begin").get_cursor()
        end = client.get_cursor(project, logstore, sid, "end").get_cursor()
        for group in client.pull_logs(project, logstore, sid, begin, 100, end).get_loggroup_json_list():
            out += group["logs"]
    return out


def test_cloud_code_writes_through_every_service_with_sts_credentials(app, monkeypatch):
    bucket = oss2.Bucket(oss2.Auth("test-ak", "test-secret"), app, "uploads")
    bucket.put_object("photos/cat.txt", b"a small cat")
    r = requests.post(f"{app}/_fcemu/idle?timeout=60")
    assert r.status_code == 200, r.text

    records = requests.get(f"{app}/_fcemu/invocations", params={"function": "thumbs"}).json()["invocations"]
    assert len(records) == 1, records
    rec = records[0]
    assert rec["status"] == "success", rec
    assert json.loads(rec["result"]) == {"thumbs": ["thumbs/cat.txt"]}
    assert any(line.endswith("thumbnail thumbs/cat.txt for photos/cat.txt") for line in rec["logs"]), rec["logs"]

    # OSS: the function's write, through oss-cn-hangzhou-internal.aliyuncs.com.
    assert bucket.get_object("thumbs/cat.txt").read() == b"A SMALL CAT"

    # Table Store: the row, through gallery.cn-hangzhou.ots-internal.aliyuncs.com.
    ots = tablestore.OTSClient(app, "test-ak", "fcemu-test-secret", "gallery",
                               retry_policy=tablestore.NoRetryPolicy())
    _, row, _ = ots.get_row("photos", [("key", "photos/cat.txt")], max_version=1)
    assert {c[0]: c[1] for c in row.attribute_columns} == {"thumb": "thumbs/cat.txt", "size": 11}

    # Log Service: the function's PutLogs, and its print lines in the service's logstore.
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, app)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    logs = LogClient(app.removeprefix("http://"), "test-ak", "test-secret")
    got = pulled(logs, "app-logs", "thumbs")
    assert [(log["key"], log["thumb"]) for log in got] == [("photos/cat.txt", "thumbs/cat.txt")]
    messages = [log.get("message", "") for log in pulled(logs, "media-logs", "fc")]
    assert any("thumbnail thumbs/cat.txt for photos/cat.txt" in m for m in messages), messages


def test_table_store_signs_responses_for_pairs_it_is_told(app):
    told = tablestore.OTSClient(app, "LTAI5tExampleKeyId", "an-ordinary-test-secret", "gallery",
                                retry_policy=tablestore.NoRetryPolicy())
    assert "photos" in told.list_table()
    unknown = tablestore.OTSClient(app, "LTAI5tOther", "never-told", "gallery",
                                   retry_policy=tablestore.NoRetryPolicy())
    with pytest.raises(tablestore.OTSServiceError) as e:
        unknown.list_table()
    assert e.value.get_error_code() == "OTSAuthFailed"
    assert "--credentials" in e.value.get_error_message()


CHAIN_MANIFEST = MANIFEST + """
[functions.audit]
runtime = "python3"
code = "{code}/../native/python"
handler = "main.handler"
  [[functions.audit.triggers]]
  type = "tablestore"
  instance = "gallery"
  table = "photos"
  format = "json"
"""


def test_fcemu_test_snapshots_the_whole_chain(tmp_path):
    """One upload: the OSS-triggered function writes a thumbnail, a row and a log with the real
    SDKs; the row's stream fires a second function. `fcemu test` shows all of it in one step."""
    code = REPO / "fixtures" / "python"
    manifest = textwrap.dedent(CHAIN_MANIFEST.format(code=code)).replace(
        "[tables.photos]", "[tables.photos]\nstream = true"
    )
    (tmp_path / "fcemu.toml").write_text(manifest)
    cases = tmp_path / "tests" / "fcemu"
    cases.mkdir(parents=True)
    (cases / "upload.toml").write_text(
        '[[steps]]\nput_object = { bucket = "uploads", key = "photos/cat.txt", body = "a small cat" }\n'
        '\n[redact]\npaths = [".steps[].invocations[].result.pid", ".steps[].invocations[].result.tmp"]\n'
    )
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
    run = subprocess.run([binary, "test", "--accept"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    snap = (cases / "snapshots" / "upload.snap").read_text()
    for expected in [
        "function: thumbs",             # the OSS trigger's function
        "function: audit",              # fired by the row it wrote
        "key: thumbs/cat.txt",          # the object it wrote
        "content: A SMALL CAT",
        "table: photos",                # the row
        "logstore: thumbs",             # its PutLogs
    ]:
        assert expected in snap, f"{expected!r} missing from:\n{snap}"
    again = subprocess.run([binary, "test"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout
    assert again.stdout.strip().endswith("1 passed, 0 failed")


LOOP_FUNCTION = '''
import json

import oss2


def handler(event, context):
    c = context.credentials
    auth = oss2.StsAuth(c.access_key_id, c.access_key_secret, c.security_token)
    for record in json.loads(event)["events"]:
        bucket = oss2.Bucket(auth, f"http://oss-{context.region}-internal.aliyuncs.com", record["oss"]["bucket"]["name"])
        key = record["oss"]["object"]["key"]
        bucket.put_object(key + "x", b"again")  # where its own trigger listens: a loop
    return "ok"
'''

# The same loop with the credentials of the instance's environment instead of the context's:
# attributed to the invocation running on the instance while it writes.
ENV_LOOP_FUNCTION = LOOP_FUNCTION.replace(
    "    c = context.credentials\n    auth = oss2.StsAuth(c.access_key_id, c.access_key_secret, c.security_token)\n",
    "    import os\n    env = os.environ\n    auth = oss2.StsAuth(env['ALIBABA_CLOUD_ACCESS_KEY_ID'], env['ALIBABA_CLOUD_ACCESS_KEY_SECRET'],\n"
    "                        env['ALIBABA_CLOUD_SECURITY_TOKEN'])\n",
)
assert ENV_LOOP_FUNCTION != LOOP_FUNCTION

LOOP_MANIFEST = """
name = "loop"

[functions.echoes]
runtime = "python3"
code = "code"
handler = "loop.handler"
  [[functions.echoes.triggers]]
  type = "oss"
  bucket = "echo"
  events = ["oss:ObjectCreated:*"]
"""


@pytest.mark.parametrize("function", [LOOP_FUNCTION, ENV_LOOP_FUNCTION], ids=["context", "environment"])
def test_a_python_trigger_loop_is_cut_and_each_invocation_names_its_cause(tmp_path, function):
    """The SDKs send the invocation's own security token (or the instance's, from its
    environment), so a native function's writes carry its chain depth (the loop guard) and its
    request id (`causedBy` in the records)."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "loop.py").write_text(function)
    (tmp_path / "fcemu.toml").write_text(LOOP_MANIFEST)
    binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
    log = tmp_path / "stderr.txt"
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    with open(log, "w") as stderr:
        server = ServerProcess(
            [binary, "up", "--listen", "127.0.0.1:0", "--in-memory", "--no-watch", "--max-trigger-depth", "3"],
            env={"PATH": path}, cwd=tmp_path, what="fcemu up", stderr=stderr,
        )
    try:
        services = server.endpoint
        oss2.Bucket(oss2.Auth("test-ak", "test-secret"), services, "echo").put_object("k", b"start")
        assert requests.post(f"{services}/_fcemu/idle?timeout=60").status_code == 200
        records = requests.get(f"{services}/_fcemu/invocations", params={"function": "echoes"}).json()["invocations"]
        records.sort(key=lambda r: r["seq"])
        assert [r["chainDepth"] for r in records] == [1, 2, 3], records
        assert all(r["status"] == "success" for r in records), records
        assert records[0]["causedBy"] is None
        assert [r["causedBy"] for r in records[1:]] == [r["requestId"] for r in records[:-1]]
    finally:
        server.stop()
    err = log.read_text()
    assert "this looks like a trigger loop" in err, err
