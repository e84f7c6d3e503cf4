"""BatchCompute clusters, images, quotas and the rest of the SDK's calls with the real
`batchcompute` SDK against `fcemu up`: a cluster is a local pool of `sum(DesiredVMCount)` slots
that bounds the instances of the tasks naming it; the App API answers NotImplemented; an attempt's
output is shown on the terminal and written to the configured logstore."""

import os
import subprocess

import oss2
import pytest
import requests
from aliyun.log import GetLogsRequest, LogClient
from batchcompute import ClientError
from batchcompute.resources import ClusterDescription, GroupDescription, ImageDescription

from batchcompat import BUCKET, REPO, client_for, fifo, job, read_fifo, start_fcemu, task, wait_final
from serverproc import ServerProcess
from slscompat import proxy_env

PROJECT, LOGSTORE = "batch-logs", "jobs"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch-clusters")
    (root / "fcemu.toml").write_text(
        f'name = "batch"\n[buckets.{BUCKET}]\n[logstores."{PROJECT}/{LOGSTORE}"]\n'
        f'[batch]\nlog_project = "{PROJECT}"\nlog_store = "{LOGSTORE}"\n')
    binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
    proc = ServerProcess([binary, "up", "--no-watch", "--in-memory", "--listen", "127.0.0.1:0"],
                         cwd=root, what="fcemu up", stderr=subprocess.PIPE,
                         env={"NO_COLOR": "1"})
    yield proc
    proc.stop()


@pytest.fixture
def fcemu(server):
    return server.endpoint


@pytest.fixture
def client(fcemu):
    return client_for(fcemu)


@pytest.fixture
def bucket(fcemu):
    return oss2.Bucket(oss2.Auth("test-ak", "test-secret"), fcemu, BUCKET)


def cluster_desc(slots, env=None):
    desc = ClusterDescription()
    desc.Name = "local-pool"
    desc.Description = "two groups"
    desc.ImageId = "img-ubuntu"
    desc.InstanceType = "ecs.sn1.medium"
    group = GroupDescription()
    group.DesiredVMCount = slots
    group.InstanceType = "ecs.sn1.medium"
    desc.add_group("workers", group)
    if env:
        desc.EnvVars = env
    return desc


def on_cluster(command, cluster_id, **extra):
    t = task(command, **extra)
    del t["AutoCluster"]
    t["ClusterId"] = cluster_id
    return t


def test_a_cluster_is_created_read_listed_changed_and_deleted(client):
    cid = client.create_cluster(cluster_desc(2, {"STAGE": "test"})).Id
    assert cid.startswith("cls-")
    c = client.get_cluster(cid)
    assert (c.Name, c.State, c.ImageId) == ("local-pool", "Active", "img-ubuntu")
    g = c.Groups["workers"]
    assert (g.DesiredVMCount, g.ActualVMCount, g.ResourceType) == (2, 2, "OnDemand")
    assert c.Metrics.RunningCount == 2 and c.EnvVars == {"STAGE": "test"}
    assert c.CreationTime is not None
    assert cid in [x.Id for x in client.list_clusters("", 100).Items]

    client.change_cluster_desired_vm_count(cid, workers=3)
    client.change_cluster_env_vars(cid, {"STAGE": "changed"})
    c = client.get_cluster(cid)
    assert c.Groups["workers"].DesiredVMCount == 3 and c.EnvVars == {"STAGE": "changed"}

    page = client.list_cluster_instances(cid, "workers", "", 2)
    assert len(page.Items) == 2 and page.NextMarker
    rest = client.list_cluster_instances(cid, "workers", page.NextMarker, 2)
    ids = [i.Id for i in page.Items] + [i.Id for i in rest.Items]
    assert len(ids) == 3 and rest.NextMarker == ""
    vm = client.get_cluster_instance(cid, "workers", ids[0])
    assert (vm.State, vm.IpAddress) == ("Running", "127.0.0.1") and vm.CreationTime is not None
    client.recreate_cluster_instance(cid, "workers", ids[0])
    client.delete_cluster_instance(cid, "workers", ids[2])
    assert client.get_cluster(cid).Groups["workers"].DesiredVMCount == 2

    with pytest.raises(ClientError) as e:
        client.change_cluster_desired_vm_count(cid, nosuchgroup=1)
    assert (e.value.status, e.value.code) == (400, "InvalidGroups")
    client.delete_cluster(cid)
    with pytest.raises(ClientError) as e:
        client.get_cluster(cid)
    assert (e.value.status, e.value.code) == (404, "InvalidResource.NotFound")


def test_bad_cluster_descriptions_and_unknown_clusters_are_refused(client):
    with pytest.raises(ClientError) as e:
        client.create_cluster({"Name": "c", "ImageId": "img-ubuntu", "Groups": {"g": {"DesiredVMCount": -1}}})
    assert (e.value.status, e.value.code) == (400, "InvalidDesiredVMCount")
    with pytest.raises(ClientError) as e:
        client.create_job(job({"t": on_cluster("true", "cls-doesnotexist")}))
    assert (e.value.status, e.value.code) == (400, "InvalidClusterId")
    assert "does not exist" in e.value.msg


def test_a_cluster_bounds_its_instances_and_gives_them_its_environment(client, bucket, fcemu, tmp_path):
    cid = client.create_cluster(cluster_desc(1, {"FROM_CLUSTER": "yes"})).Id
    started = fifo(tmp_path / "started")
    release = [fifo(tmp_path / f"release-{n}") for n in range(2)]
    command = (f"echo $BATCH_COMPUTE_DAG_INSTANCE_ID > {started}; "
               f"cat {tmp_path}/release-$BATCH_COMPUTE_DAG_INSTANCE_ID; "
               "echo $FROM_CLUSTER $BATCH_COMPUTE_CLUSTER_ID")
    jid = client.create_job(job({"pool": on_cluster(command, cid, InstanceCount=2)})).Id
    first = int(read_fifo(started))
    # One slot: the other instance waits for it.
    states = sorted(i.State for i in client.list_instances(jid, "pool", 0, 10).Items)
    assert states == ["Running", "Waiting"]
    assert [j.Id for j in client.list_jobs("", 100, cluster_id=cid).Items] == [jid]
    # A second slot lets it start while the first still runs.
    client.change_cluster_desired_vm_count(cid, workers=2)
    second = int(read_fifo(started))
    assert {first, second} == {0, 1}
    for path in release:
        with open(path, "w") as f:
            f.write("go\n")
    assert wait_final(fcemu, client, jid).State == "Finished"
    log = bucket.get_object(f"logs/stdout.{jid}.pool.0").read()
    assert log == f"go\nyes {cid}\n".encode()
    client.delete_cluster(cid)


def test_deleting_a_cluster_fails_the_instances_waiting_for_it(client, fcemu):
    cid = client.create_cluster(cluster_desc(0)).Id
    jid = client.create_job(job({"never": on_cluster("true", cid)})).Id
    assert client.get_instance(jid, "never", 0).State == "Waiting"
    client.delete_cluster(cid)
    j = wait_final(fcemu, client, jid)
    inst = client.get_instance(jid, "never", 0)
    assert j.State == "Failed" and inst.Result.ErrorCode == "ClusterDeleted"


def test_stopping_a_job_that_waits_for_a_slot(client, fcemu):
    cid = client.create_cluster(cluster_desc(0)).Id
    jid = client.create_job(job({"never": on_cluster("true", cid)})).Id
    client.stop_job(jid)
    assert wait_final(fcemu, client, jid).State == "Stopped"
    client.delete_job(jid)
    client.delete_cluster(cid)


def test_images_quotas_and_available_resources(client):
    system = client.list_images("", 100, type_="System")
    assert [i.Id for i in system.Items] == ["img-ubuntu"]
    assert system.Items[0].Type == "System" and system.Items[0].Platform == "Linux"
    desc = ImageDescription()
    desc.Name = "my-image"
    desc.EcsImageId = "m-local"
    desc.Platform = "Linux"
    iid = client.create_image(desc).Id
    img = client.get_image(iid)
    assert (img.Name, img.EcsImageId, img.Type) == ("my-image", "m-local", "Self")
    assert img.CreationTime is not None
    assert {"img-ubuntu", iid} <= {i.Id for i in client.list_images("", 100).Items}
    client.delete_image(iid)
    with pytest.raises(ClientError) as e:
        client.get_image(iid)
    assert e.value.status == 404
    with pytest.raises(ClientError) as e:
        client.delete_image("img-ubuntu")
    assert e.value.status == 403

    q = client.get_quotas()
    assert "ecs.sn1.medium" in q.AvailableClusterInstanceType
    assert "OnDemand" in q.AvailableClusterResourceType
    a = client.get_available_resource()
    first = a.AvailableClusterInstanceType[0]
    assert first.CpuCore >= 1 and first.MemorySize >= 1 and first.Network.Vpc is True


def test_the_app_api_says_it_is_not_emulated(client):
    with pytest.raises(ClientError) as e:
        client.list_apps()
    assert (e.value.status, e.value.code) == (501, "NotImplemented")
    assert "DAG job" in e.value.msg
    with pytest.raises(ClientError) as e:
        client.get_app("some-app")
    assert e.value.code == "NotImplemented"


def test_an_idempotent_token_gives_the_first_jobs_id(client, fcemu):
    body = job({"t": task("true")}, name="once")
    first = client.create_job(body, token="token-1").Id
    assert client.create_job(body, token="token-1").Id == first
    with pytest.raises(ClientError) as e:
        client.create_job(job({"t": task("false")}, name="other"), token="token-1")
    assert (e.value.status, e.value.code) == (400, "IdempotentTokenMismatch")
    assert wait_final(fcemu, client, first).State == "Finished"
    assert len([j for j in client.list_jobs("", 100).Items if j.Name == "once"]) == 1


def test_error_bodies_carry_the_request_id(fcemu):
    r = requests.get(f"{fcemu}/jobs/job-nope", headers={"x-acs-version": "2015-11-11"})
    assert r.status_code == 404
    assert r.json()["RequestId"] == r.headers["x-acs-request-id"] != ""


def test_an_attempts_output_reaches_the_logstore_and_the_terminal(client, server, monkeypatch):
    jid = client.create_job(job({"talk": task("echo hello-from-batch; echo oops >&2", InstanceCount=2)},
                                name="talker")).Id
    assert wait_final(server.endpoint, client, jid).State == "Finished"
    proxy_env(monkeypatch, server.endpoint)  # the SDK puts the project in the host name
    logs = LogClient(server.endpoint.removeprefix("http://"), "test-ak", "test-secret")
    res = logs.get_logs(GetLogsRequest(PROJECT, LOGSTORE, 0, 2**31 - 1, query=f"jobId: {jid}", line=100))
    lines = sorted((l.contents["instanceId"], l.contents["stream"], l.contents["message"]) for l in res.get_logs())
    assert lines == [("0", "stderr", "oops"), ("0", "stdout", "hello-from-batch"),
                     ("1", "stderr", "oops"), ("1", "stdout", "hello-from-batch")]
    assert all(l.contents["taskName"] == "talk" and l.contents["jobName"] == "talker" for l in res.get_logs())
    server.stop()
    terminal = server.proc.stderr.read()
    assert "talker/talk#0 [batch] ok" in terminal and "│ hello-from-batch" in terminal


def test_clusters_and_images_survive_kill_9(tmp_path):
    (tmp_path / "fcemu.toml").write_text('name = "batch"\n')
    data = str(tmp_path / "data")
    server = start_fcemu(tmp_path, "--data-dir", data)
    try:
        c = client_for(server.endpoint)
        cid = c.create_cluster(cluster_desc(2, {"KEPT": "1"})).Id
        c.change_cluster_desired_vm_count(cid, workers=3)
        desc = ImageDescription()
        desc.Name, desc.EcsImageId, desc.Platform = "kept", "m-kept", "Linux"
        iid = c.create_image(desc).Id
    finally:
        server.kill()  # SIGKILL: what was acknowledged must be on disk
    server = start_fcemu(tmp_path, "--data-dir", data)
    try:
        c = client_for(server.endpoint)
        cluster = c.get_cluster(cid)
        assert cluster.Groups["workers"].DesiredVMCount == 3 and cluster.EnvVars == {"KEPT": "1"}
        assert c.get_image(iid).Name == "kept"
        # The pool is back with its size: a job on it runs.
        jid = c.create_job(job({"t": on_cluster("true", cid)})).Id
        assert wait_final(server.endpoint, c, jid).State == "Finished"
    finally:
        server.stop()
