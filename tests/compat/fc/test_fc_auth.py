"""Signature checks on the FC API under `fcemu up --strict-auth`: FC 2.0 (`FC ak:sig`, aliyun-fc2)
and ACS3-HMAC-SHA256 (alibabacloud-fc20230330)."""

import json

import fc2
import pytest
import requests
from alibabacloud_fc20230330 import models
from alibabacloud_fc20230330.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions

from conftest import Fcemu

AK, SECRET = "testak", "testsecret"


@pytest.fixture(scope="module")
def strict():
    server = Fcemu(extra_args=["--no-watch", "--strict-auth", f"{AK}:{SECRET}"])
    yield server
    server.stop()


def fc2_client(server, ak=AK, secret=SECRET):
    return fc2.Client(endpoint=server.services, accessKeyID=ak, accessKeySecret=secret, Timeout=30)


def fc3_client(server, ak=AK, secret=SECRET):
    config = open_api_models.Config(
        access_key_id=ak,
        access_key_secret=secret,
        endpoint=server.host,
        protocol="http",
        region_id="cn-hangzhou",
    )
    return Client(config)


def test_fc2_right_key(strict):
    client = fc2_client(strict)
    names = [s["serviceName"] for s in client.list_services().data["services"]]
    assert "default" in names
    resp = client.invoke_function("default", "echo", payload=b'{"k":"v"}')
    assert resp.data == b'{"k":"v"}'


def test_fc2_wrong_secret(strict):
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        fc2_client(strict, secret="wrong").list_services()
    assert e.value.status_code == 403
    assert json.loads(e.value.message)["ErrorCode"] == "SignatureNotMatch"


def test_fc2_unknown_key(strict):
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        fc2_client(strict, ak="otherak").invoke_function("default", "echo", payload=b"x")
    assert e.value.status_code == 403
    assert json.loads(e.value.message)["ErrorCode"] == "InvalidAccessKeyID"


def test_fc3_right_key(strict):
    client = fc3_client(strict)
    resp = client.list_functions(models.ListFunctionsRequest(limit=100))
    assert "echo" in [f.function_name for f in resp.body.functions]
    request = models.InvokeFunctionRequest(body=b'{"v":3}')
    resp = client.invoke_function_with_options(
        "echo", request, models.InvokeFunctionHeaders(), RuntimeOptions()
    )
    assert resp.status_code == 200
    assert resp.body.read() == b'{"v":3}'


def test_fc3_wrong_secret(strict):
    with pytest.raises(ClientException) as e:
        fc3_client(strict, secret="wrong").list_functions(models.ListFunctionsRequest())
    assert e.value.code == "SignatureNotMatch"
    assert e.value.status_code == 403


def test_fc3_unknown_key(strict):
    with pytest.raises(ClientException) as e:
        fc3_client(strict, ak="otherak").list_functions(models.ListFunctionsRequest())
    assert e.value.code == "InvalidAccessKeyID"


def test_unsigned_requests_are_refused_in_each_error_shape(strict):
    r = requests.get(f"{strict.services}/2016-08-15/services")
    assert r.status_code == 400
    assert r.json()["ErrorCode"] == "MissingRequiredHeader"
    r = requests.get(f"{strict.services}/2023-03-30/functions")
    assert r.status_code == 400
    body = r.json()
    assert body["Code"] == "MissingRequiredHeader"
    assert body["RequestId"] == r.headers["x-fc-request-id"]
