"""The API Gateway with plain HTTP clients (requests): events, results, binary bodies,
repeated headers and multi-value query strings, HTTP functions, and the error cases."""

import base64
import json
import socket

import requests


def test_apigw_event_shape(fcemu):
    r = requests.post(
        f"{fcemu.gateway}/items/42?tag=a&tag=b&q=hello%20world",
        data=b'{"name":"x"}',
        headers={"Content-Type": "application/json", "X-Trace": "t1"},
    )
    assert r.status_code == 200
    assert r.headers["x-handled-by"] == "apigw"
    assert r.headers["x-fc-request-id"]
    event = r.json()
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryParameters"] == {"tag": "a,b", "q": "hello world"}
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["headers"]["X-Trace"] == "t1"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b'{"name":"x"}'


def test_repeated_headers_are_joined(fcemu):
    sock = socket.create_connection((fcemu.gateway.split("//")[1].split(":")[0], int(fcemu.gateway.rsplit(":", 1)[1])))
    sock.sendall(b"GET /items/1 HTTP/1.1\r\nHost: x\r\nX-Multi: one\r\nX-Multi: two\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    body = data.split(b"\r\n\r\n", 1)[1]
    assert json.loads(body)["headers"]["X-Multi"] == "one,two"


def test_binary_body_round_trips(fcemu):
    payload = bytes(range(256))
    r = requests.put(f"{fcemu.gateway}/items/bin", data=payload, headers={"Content-Type": "application/octet-stream"})
    assert base64.b64decode(r.json()["body"]) == payload


def test_fc3_event_format(fcemu):
    r = requests.post(f"{fcemu.gateway}/v3/a/b?x=1&x=2", data="hi", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200
    event = json.loads(r.content)
    assert event["version"] == "v1"
    assert event["rawPath"] == "/v3/a/b"
    assert event["body"] == "hi" and event["isBase64Encoded"] is False
    assert event["queryParameters"] == {"x": "1,2"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["timeEpoch"].isdigit()


def test_malformed_result_is_502_saying_why(fcemu):
    r = requests.get(f"{fcemu.gateway}/echo")
    assert r.status_code == 502
    assert "no statusCode" in r.json()["errorMessage"]


def test_http_function_gets_the_request_itself(fcemu):
    body = b"x" * 100_000
    r = requests.post(f"{fcemu.gateway}/web/upload?a=1", data=body)
    assert r.status_code == 200
    assert r.headers["x-guest"] == "http-guest"
    assert r.content == b"POST /web/upload?a=1\n" + body


def test_outbound_http_only_to_fcemu_and_allowed_hosts(fcemu):
    ok = requests.get(f"{fcemu.gateway}/web/fetch?url={fcemu.services}/_fcemu/health")
    assert ok.status_code == 200
    assert ok.content.startswith(b"200 ")
    # A bucket addressed in the host name, as SDKs do, reaches fcemu's object store.
    requests.put(f"{fcemu.services}/vhost-bucket")
    requests.put(f"{fcemu.services}/vhost-bucket/greeting.txt", data=b"hello from oss")
    vhost = requests.get(f"{fcemu.gateway}/web/fetch?url=http://vhost-bucket.{fcemu.host}/greeting.txt")
    assert vhost.status_code == 200, vhost.text
    assert vhost.content.startswith(b"200 ") and vhost.content.endswith(b"hello from oss"), vhost.content
    denied = requests.get(f"{fcemu.gateway}/web/fetch?url=http://example.com/")
    assert denied.status_code == 502
    assert b"HttpRequestDenied" in denied.content


def test_unknown_route_is_404_json(fcemu):
    r = requests.get(f"{fcemu.gateway}/nowhere")
    assert r.status_code == 404
    assert r.json()["ErrorCode"] == "RouteNotFound"
    r = requests.delete(f"{fcemu.gateway}/items/1")
    assert r.status_code == 405


def test_payload_over_the_sync_limit_is_413(fcemu):
    r = requests.post(f"{fcemu.gateway}/items/big", data=b"x" * (32 * 1024 * 1024 + 1))
    assert r.status_code == 413
    assert r.json()["ErrorCode"] == "EntityTooLarge"


def test_fc2_http_trigger_address_on_the_services_port(fcemu):
    # FC 2.0 serves a function's HTTP trigger at /2016-08-15/proxy/{service}/{function}/{path}.
    r = requests.put(f"{fcemu.services}/2016-08-15/proxy/default/api/items/7?q=1", data=b"hi")
    assert r.status_code == 200, r.text
    assert r.headers["x-handled-by"] == "apigw"
    event = r.json()
    assert event["path"] == "/items/7"
    assert event["httpMethod"] == "PUT"
    assert event["queryParameters"] == {"q": "1"}
    assert base64.b64decode(event["body"]) == b"hi"

    web = requests.post(f"{fcemu.services}/2016-08-15/proxy/default/web/echo", data=b"streamed")
    assert web.status_code == 200, web.text
    assert web.content == b"POST /echo\nstreamed"

    cases = {
        "/2016-08-15/proxy/nosuch/api/": ("ServiceNotFound", "nosuch"),
        "/2016-08-15/proxy/media/api/": ("FunctionNotFound", "api"),
        "/2016-08-15/proxy/default/fail/": ("TriggerNotFound", "HTTP trigger"),
    }
    for path, (code, words) in cases.items():
        r = requests.get(f"{fcemu.services}{path}")
        assert r.status_code == 404, (path, r.text)
        body = r.json()
        assert body["ErrorCode"] == code, body
        assert words in body["ErrorMessage"]
