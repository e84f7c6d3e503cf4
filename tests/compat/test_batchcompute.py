"""BatchCompute with the real `batchcompute` SDK against `fcemu up`: DAG jobs whose instances run
as local processes, reading inputs from and writing outputs and logs to fcemu's OSS (with oss2),
in DAG order, with retries, stop, paging and the service's errors."""

import re

import oss2
import pytest
import requests
from batchcompute import ClientError
from batchcompute.resources import JobDescription, TaskDescription

from batchcompat import BUCKET, client_for, fifo, job, read_fifo, start_fcemu, task, wait_exit, wait_final


@pytest.fixture(scope="module")
def fcemu(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch-app")
    (root / "fcemu.toml").write_text(f'name = "batch"\n[buckets.{BUCKET}]\n')
    server = start_fcemu(root, "--in-memory")
    yield server.endpoint
    server.stop()


@pytest.fixture
def client(fcemu):
    return client_for(fcemu)


@pytest.fixture(scope="module")
def bucket(fcemu):
    return oss2.Bucket(oss2.Auth("test-ak", "test-secret"), fcemu, BUCKET)


def test_a_job_maps_inputs_runs_and_uploads_outputs_and_logs(client, bucket, fcemu):
    bucket.put_object("in/words.txt", b"b a c")
    t = task("mkdir -p out && tr ' ' '\\n' < in/words.txt | sort > out/sorted.txt && echo sorted $BATCH_COMPUTE_DAG_TASK_ID",
             InputMapping={f"oss://{BUCKET}/in/": "in/"}, OutputMapping={"out/": f"oss://{BUCKET}/out/"})
    created = client.create_job(job({"sort": t}))
    jid = created.Id
    assert re.fullmatch(r"job-[0-9A-F]{32}", jid)
    assert requests.post(f"{fcemu}/_fcemu/idle?timeout=60").status_code == 200  # idle waits for jobs
    j = client.get_job(jid)
    assert j.State == "Finished", j
    assert j.TaskMetrics.FinishedCount == 1 and j.InstanceMetrics.FinishedCount == 1
    assert j.StartTime is not None and j.EndTime is not None
    assert bucket.get_object("out/sorted.txt").read() == b"a\nb\nc\n"
    inst = client.get_instance(jid, "sort", 0)
    assert inst.State == "Finished" and inst.Result.ExitCode == 0
    assert inst.StdoutRedirectPath == f"oss://{BUCKET}/logs/stdout.{jid}.sort.0"
    assert bucket.get_object(f"logs/stdout.{jid}.sort.0").read() == b"sorted sort\n"
    assert client.get_task(jid, "sort").State == "Finished"
    desc = client.get_job_description(jid)
    assert desc.Name == "job" and "sort" in desc.DAG.Tasks


def test_dag_order_instances_and_their_environment(client, bucket, fcemu):
    produce = task("echo made-by-$BATCH_COMPUTE_DAG_INSTANCE_ID > part.txt; mkdir -p o; mv part.txt o/part-$BATCH_COMPUTE_DAG_INSTANCE_ID.txt",
                   InstanceCount=3, OutputMapping={"o/": f"oss://{BUCKET}/parts/"})
    consume = task("cat in/part-*.txt > all.txt; mkdir -p o; mv all.txt o/; echo $MODE $BATCH_COMPUTE_OSS_HOST",
                   InputMapping={f"oss://{BUCKET}/parts/": "in/"}, OutputMapping={"o/": f"oss://{BUCKET}/merged/"})
    consume["Parameters"]["Command"]["EnvVars"] = {"MODE": "merge"}
    jid = client.create_job(job({"merge": consume, "produce": produce}, {"produce": ["merge"]})).Id
    j = wait_final(fcemu, client, jid)
    assert j.State == "Finished", [(t.TaskName, t.State) for t in client.list_tasks(jid, "", 10).Items]
    assert bucket.get_object("merged/all.txt").read() == b"made-by-0\nmade-by-1\nmade-by-2\n"
    log = bucket.get_object(f"logs/stdout.{jid}.merge.0").read().decode()
    assert log.startswith("merge 127.0.0.1:")
    produced, merged = client.get_task(jid, "produce"), client.get_task(jid, "merge")
    assert produced.EndTime <= merged.StartTime
    page = client.list_instances(jid, "produce", 0, 2)
    assert [i.InstanceId for i in page.Items] == [0, 1] and str(page.NextMarker) == "2"
    rest = client.list_instances(jid, "produce", page.NextMarker, 2)
    assert [i.InstanceId for i in rest.Items] == [2] and rest.NextMarker == ""


def test_a_failing_instance_is_retried_then_fails_the_job(client, bucket, fcemu):
    jid = client.create_job(job({"flaky": task("echo try >&2; exit 3", MaxRetryCount=2)})).Id
    j = wait_final(fcemu, client, jid)
    assert j.State == "Failed" and j.Message
    inst = client.get_instance(jid, "flaky", 0)
    assert (inst.State, inst.RetryCount, inst.Result.ExitCode) == ("Failed", 2, 3)
    assert bucket.get_object(f"logs/stderr.{jid}.flaky.0").read() == b"try\n"
    with pytest.raises(ClientError) as e:
        client.change_job_priority(jid, 5)
    assert e.value.status == 409 and e.value.code == "StateConflict"
    client.delete_job(jid)
    with pytest.raises(ClientError) as e:
        client.get_job(jid)
    assert e.value.status == 404 and e.value.code == "InvalidResource.NotFound"


def test_stop_kills_the_processes_and_start_runs_it_again(client, tmp_path):
    started = fifo(tmp_path / "child.pid")
    jid = client.create_job(job({"long": task(f"sh -c 'echo $$ > {started}; sleep 300' & wait", Timeout=600)})).Id
    child = int(read_fifo(started))
    with pytest.raises(ClientError) as e:
        client.delete_job(jid)
    assert e.value.status == 409 and e.value.code == "StateConflict"
    client.stop_job(jid)
    assert client.get_job(jid).State == "Stopped"
    wait_exit(child)  # the grandchild too: the whole process group is killed
    with pytest.raises(ClientError) as e:
        client.stop_job(jid)
    assert e.value.code == "StateConflict"
    client.change_job_priority(jid, 7)
    assert client.get_job(jid).Priority == 7
    client.start_job(jid)
    assert client.get_job(jid).State in ("Waiting", "Running")
    client.stop_job(jid)
    client.delete_job(jid)


def test_a_timeout_fails_the_instance(client, fcemu):
    jid = client.create_job(job({"slow": task("sleep 30", Timeout=1)})).Id
    j = wait_final(fcemu, client, jid)
    inst = client.get_instance(jid, "slow", 0)
    assert j.State == "Failed" and inst.Result.ErrorCode == "Timeout"


def test_an_sdk_job_description_and_paging(client, fcemu):
    desc = JobDescription()
    desc.Name = "sdk-built"
    desc.Priority = 3
    desc.JobFailOnInstanceFail = True
    t = TaskDescription()
    t.Parameters.Command.CommandLine = "true"
    t.InstanceCount = 1
    t.AutoCluster.ImageId = "img-ubuntu"
    desc.DAG.add_task("only", t)
    ids = [client.create_job(desc).Id for _ in range(3)]
    for jid in ids:
        assert wait_final(fcemu, client, jid).State == "Finished"
    seen, marker = [], ""
    while True:
        page = client.list_jobs(marker, 2)
        seen += [j.Id for j in page.Items]
        if not page.NextMarker:
            break
        marker = page.NextMarker
    assert all(i in seen for i in ids) and len(seen) == len(set(seen))
    finished = client.list_jobs("", 100, state="Finished")
    assert all(j.State == "Finished" for j in finished.Items)


@pytest.mark.parametrize(
    "body,code",
    [
        (job({"a": task("true"), "b": task("true")}, {"a": ["b"], "b": ["a"]}), "BadDAG"),
        (job({"a": task("true")}, {"a": ["ghost"]}), "InvalidDependencies"),
        (job({"a": task("true", InstanceCount=0)}), "InvalidInstanceCount"),
        (job({"a": {"Parameters": {"Command": {}}}}), "MissingCommandLine"),
        (job({"a": task("true", InputMapping={"/local": "/x"})}), "InvalidInputMapping"),
    ],
)
def test_bad_descriptions_are_refused(client, body, code):
    with pytest.raises(ClientError) as e:
        client.create_job(body)
    assert (e.value.status, e.value.code) == (400, code)


def test_not_json_is_invalid_json_format(fcemu):
    r = requests.post(f"{fcemu}/jobs", data=b"{nope", headers={"x-acs-version": "2015-11-11"})
    assert r.status_code == 400 and r.json()["Code"] == "InvalidJsonFormat"
    assert r.headers["x-acs-request-id"]


def test_kill_9_during_a_job_keeps_it_and_says_it_was_interrupted(tmp_path):
    (tmp_path / "fcemu.toml").write_text(f'name = "batch"\n[buckets.{BUCKET}]\n')
    started = fifo(tmp_path / "started")
    server = start_fcemu(tmp_path, "--data-dir", str(tmp_path / "data"))
    try:
        c = client_for(server.endpoint)
        done = c.create_job(job({"quick": task("true")}, name="before")).Id
        wait_final(server.endpoint, c, done)
        jid = c.create_job(job({"long": task(f"echo up > {started}; exec sleep 300", Timeout=600)}, name="during")).Id
        read_fifo(started)
    finally:
        server.kill()  # SIGKILL: no chance to save anything more
    server = start_fcemu(tmp_path, "--data-dir", str(tmp_path / "data"))
    try:
        c = client_for(server.endpoint)
        assert c.get_job(done).State == "Finished"
        j = c.get_job(jid)
        assert j.State == "Failed" and "fcemu stopped while the job ran" in j.Message
        assert c.get_instance(jid, "long", 0).Result.ErrorCode == "Interrupted"
        c.start_job(jid)  # runs what did not finish
        assert read_fifo(started) == "up\n"
        c.stop_job(jid)
    finally:
        server.stop()


def test_the_package_is_unpacked_into_the_work_directory(client, bucket, fcemu):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        script = b"#!/bin/sh\necho packaged $1 > result.txt\nmkdir -p o && mv result.txt o/\n"
        info = tarfile.TarInfo("./bin/run.sh")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
        evil = tarfile.TarInfo("../escaped.txt")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    bucket.put_object("pkg/worker.tar.gz", buf.getvalue())
    t = task("sh bin/run.sh ok", OutputMapping={"o/": f"oss://{BUCKET}/pkgout/"})
    t["Parameters"]["Command"]["PackagePath"] = f"oss://{BUCKET}/pkg/worker.tar.gz"
    jid = client.create_job(job({"p": t})).Id
    assert wait_final(fcemu, client, jid).State == "Finished"
    assert bucket.get_object("pkgout/result.txt").read() == b"packaged ok\n"
    bad = task("true")
    bad["Parameters"]["Command"]["PackagePath"] = f"oss://{BUCKET}/pkg/missing.tar.gz"
    jid = client.create_job(job({"p": bad})).Id
    assert wait_final(fcemu, client, jid).State == "Failed"
    inst = client.get_instance(jid, "p", 0)
    assert inst.Result.ErrorCode == "PrepareFailed" and "missing.tar.gz" in inst.Result.ErrorMessage


def test_strict_auth_checks_the_sdks_signature(tmp_path):
    (tmp_path / "fcemu.toml").write_text('name = "batch"\n')
    server = start_fcemu(tmp_path, "--in-memory", "--strict-auth", "LTAIbatch:batch-secret")
    try:
        good = client_for(server.endpoint, "LTAIbatch", "batch-secret")
        jid = good.create_job(job({"t": task("true")})).Id
        assert wait_final(server.endpoint, good, jid).State == "Finished"
        assert good.list_jobs("", 10).Items
        with pytest.raises(ClientError) as e:
            client_for(server.endpoint, "LTAIbatch", "wrong-secret").get_job(jid)
        assert (e.value.status, e.value.code) == (403, "Forbidden")
    finally:
        server.stop()
