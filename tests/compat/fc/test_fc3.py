"""alibabacloud-fc20230330 (FC 3.0 API) against fcemu, unchanged but for the endpoint."""

import base64
import json

import pytest
from alibabacloud_fc20230330 import models
from alibabacloud_fc20230330.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from darabonba.runtime import RuntimeOptions


@pytest.fixture(scope="module")
def client(fcemu):
    config = open_api_models.Config(
        access_key_id="test-ak",
        access_key_secret="test-secret",
        endpoint=fcemu.host,
        protocol="http",
        region_id="cn-hangzhou",
    )
    return Client(config)


def test_list_functions(client):
    resp = client.list_functions(models.ListFunctionsRequest(limit=100))
    names = [f.function_name for f in resp.body.functions]
    assert names == sorted(names)
    assert {"echo", "echo3", "thumb", "api"} <= set(names)
    echo = [f for f in resp.body.functions if f.function_name == "echo"][0]
    assert echo.memory_size == 256
    assert echo.function_arn == "acs:fc:cn-hangzhou:1234567890123456:functions/echo"


def test_get_function(client):
    f = client.get_function("echo", models.GetFunctionRequest()).body
    assert f.function_name == "echo"
    assert f.timeout == 10
    assert f.environment_variables == {"STAGE": "test"}


def test_triggers_carry_config_as_a_string(client):
    resp = client.list_triggers("thumb", models.ListTriggersRequest())
    oss = [t for t in resp.body.triggers if t.trigger_name == "on-upload"][0]
    assert json.loads(oss.trigger_config)["events"] == ["oss:ObjectCreated:*"]


def test_invoke_sync_with_tail(client):
    headers = models.InvokeFunctionHeaders(x_fc_log_type="Tail")
    request = models.InvokeFunctionRequest(body=b'{"v":3}')
    resp = client.invoke_function_with_options("echo", request, headers, RuntimeOptions())
    assert resp.status_code == 200
    assert resp.body.read() == b'{"v":3}'
    log = base64.b64decode(resp.headers["x-fc-log-result"]).decode()
    assert "FC Invoke Start RequestId" in log


def test_invoke_async(client, fcemu):
    headers = models.InvokeFunctionHeaders(x_fc_invocation_type="Async")
    resp = client.invoke_function_with_options("echo", models.InvokeFunctionRequest(body=b"x"), headers, RuntimeOptions())
    assert resp.status_code == 202
    fcemu.idle()


def test_function_error_is_200_with_error_type(client):
    resp = client.invoke_function_with_options("fail", models.InvokeFunctionRequest(body=b""), models.InvokeFunctionHeaders(), RuntimeOptions())
    assert resp.status_code == 200
    assert resp.headers["x-fc-error-type"] == "HandledInvocationError"
    assert json.loads(resp.body.read())["errorType"] == "ExitStatus1"


def test_not_found_error_shape(client):
    from alibabacloud_tea_openapi.exceptions import ClientException
    with pytest.raises(ClientException) as e:
        client.get_function("nope", models.GetFunctionRequest())
    assert e.value.code == "FunctionNotFound"
    assert e.value.status_code == 404
