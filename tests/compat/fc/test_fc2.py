"""aliyun-fc2 (FC 2.0 API, 2016-08-15) against fcemu, unchanged but for the endpoint."""

import base64
import json

import fc2
import pytest


@pytest.fixture(scope="module")
def client(fcemu):
    return fc2.Client(
        endpoint=fcemu.services,
        accessKeyID="test-ak",
        accessKeySecret="test-secret",
        Timeout=30,
    )


def test_list_services(client):
    resp = client.list_services()
    names = [s["serviceName"] for s in resp.data["services"]]
    assert names == ["default", "media"]
    media = resp.data["services"][1]
    assert media["logConfig"]["project"] == "media-logs"
    assert resp.headers["x-fc-request-id"]


def test_list_and_get_functions(client):
    resp = client.list_functions("default")
    names = [f["functionName"] for f in resp.data["functions"]]
    assert "echo" in names and "thumb" not in names
    assert resp.data["nextToken"] == ""
    page = client.list_functions("default", limit=2)
    assert len(page.data["functions"]) == 2
    assert page.data["nextToken"]
    rest = client.list_functions("default", nextToken=page.data["nextToken"])
    assert page.data["functions"][-1]["functionName"] < rest.data["functions"][0]["functionName"]
    echo = client.get_function("default", "echo").data
    assert echo["memorySize"] == 256
    assert echo["timeout"] == 10
    assert echo["environmentVariables"] == {"STAGE": "test"}
    assert echo["codeChecksum"].isdigit()


def test_triggers(client):
    triggers = client.list_triggers("media", "thumb").data["triggers"]
    by_name = {t["triggerName"]: t for t in triggers}
    oss = by_name["on-upload"]
    assert oss["triggerType"] == "oss"
    assert oss["sourceArn"] == "acs:oss:cn-hangzhou:1234567890123456:uploads"
    assert oss["triggerConfig"]["filter"]["key"] == {"prefix": "photos/", "suffix": ".jpg"}
    timer = client.get_trigger("media", "thumb", "nightly").data
    assert timer["triggerConfig"]["cronExpression"] == "0 0 2 * * *"
    assert timer["triggerConfig"]["payload"] == "compact"


def test_invoke_sync_returns_the_result(client):
    resp = client.invoke_function("default", "echo", payload=b'{"k":"v"}')
    assert resp.data == b'{"k":"v"}'
    assert resp.headers["x-fc-request-id"]
    assert "x-fc-error-type" not in resp.headers


def test_invoke_with_qualifier_and_binary_payload(client):
    payload = bytes(range(256)) * 4
    resp = client.invoke_function("default", "echo", payload=payload, qualifier="LATEST")
    assert resp.data == payload


def test_invoke_component(client):
    assert client.invoke_function("default", "echo3", payload=b"component").data == b"component"


def test_invoke_tail_logs(client):
    resp = client.invoke_function("default", "echo", payload=b"hello", headers={"x-fc-log-type": "Tail"})
    log = base64.b64decode(resp.headers["x-fc-log-result"]).decode()
    rid = resp.headers["x-fc-request-id"]
    assert log.startswith(f"FC Invoke Start RequestId: {rid}\n")
    assert "echo: 5 bytes\n" in log
    assert log.endswith(f"FC Invoke End RequestId: {rid}\n")


def test_function_errors_raise_with_fc_error_body(client):
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        client.invoke_function("default", "fail")
    body = json.loads(e.value.message)
    assert body["errorMessage"] == "invalid order: quantity must be positive"
    assert e.value.status_code == 200
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        client.invoke_function("default", "trap")
    assert json.loads(e.value.message)["errorType"] == "WasmTrap"


def test_timeout_is_an_unhandled_error(client):
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        client.invoke_function("default", "slow")
    body = json.loads(e.value.message)
    assert body["errorType"] == "FunctionTimeout"
    assert body["errorMessage"].startswith("Function timed out after 1 seconds")


def test_async_invoke_returns_202(client, fcemu):
    resp = client.invoke_function("default", "echo", payload=b"later", headers={"x-fc-invocation-type": "Async"})
    assert resp.data == b""
    assert resp.headers["x-fc-request-id"]
    fcemu.idle()


def test_concurrency_limit_throttles(client, fcemu):
    client.invoke_function("default", "slow", headers={"x-fc-invocation-type": "Async"})
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        client.invoke_function("default", "slow")
    assert e.value.status_code == 429
    assert e.value.err_code == "ResourceThrottled"
    fcemu.idle()


def test_not_found_errors(client):
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        client.get_function("default", "nope")
    assert (e.value.status_code, e.value.err_code) == (404, "FunctionNotFound")
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        client.list_functions("nosuch")
    assert (e.value.status_code, e.value.err_code) == (404, "ServiceNotFound")
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        client.invoke_function("media", "echo")
    assert e.value.err_code == "FunctionNotFound"
