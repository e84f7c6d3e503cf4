"""Drives the demo application on a running fcemu (standard library only)."""

import base64
import json
import subprocess
import sys
import urllib.request


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def step(title):
    print(f"\n\033[1m==> {title}\033[0m" if sys.stdout.isatty() else f"\n==> {title}", flush=True)


def main():
    binary, app_dir = sys.argv[1], sys.argv[2]
    serve = "--serve" in sys.argv[3:]
    args = [binary, "up", "--in-memory", "--deterministic", "--no-watch"]
    if not serve:
        args += ["--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(args, cwd=app_dir, stdout=subprocess.PIPE, text=True)
    ready = None
    for line in proc.stdout:
        if line.startswith("fcemu: ready"):
            ready = dict(kv.split("=", 1) for kv in line.split()[2:])
            break
    if ready is None:
        sys.exit("fcemu did not start")
    gateway, services = ready["gateway"], ready["services"]
    try:
        step(f"GET {gateway}/photos/42?size=small  (API Gateway -> event function)")
        status, _, body = request("GET", f"{gateway}/photos/42?size=small")
        event = json.loads(body)
        print(status, json.dumps({k: event[k] for k in ("path", "httpMethod", "pathParameters", "queryParameters")}))

        step(f"POST {gateway}/web/echo  (HTTP function, wasi:http/proxy)")
        status, headers, body = request("POST", f"{gateway}/web/echo", b"hello from the demo")
        print(status, headers.get("x-guest"), body.decode())

        step(f"PUT {services}/uploads/photos/cat.jpg  (OSS upload -> trigger -> onSuccess destination)")
        status, headers, _ = request("PUT", f"{services}/uploads/photos/cat.jpg", b"\xff\xd8 pretend jpeg", {"Content-Type": "image/jpeg"})
        print(status, "ETag", headers.get("etag"))
        request("PUT", f"{services}/uploads/photos/cat.png", b"not a jpg")
        request("POST", f"{services}/_fcemu/idle?timeout=30")
        _, _, body = request("GET", f"{services}/_fcemu/invocations")
        for r in json.loads(body)["invocations"]:
            if r["function"] in ("thumbnail", "audit"):
                summary = r["event"][:110] + ("..." if len(r["event"]) > 110 else "")
                print(f"  {r['function']:<10} [{r['trigger']}] {r['status']}: {summary}")

        project_host = f"photo-app-logs.{services.split('://', 1)[1]}"
        step(f"GET logs of the thumbnailer from the Log Service ({project_host}, logstore fc-logs)")
        _, _, body = request(
            "GET",
            f"{services}/logstores/fc-logs?type=log&from=0&to=4102444800&line=10&query=functionName%3A%20thumbnail",
            headers={"x-log-apiversion": "0.6.0", "Host": project_host},
        )
        for log in json.loads(body):
            print(f"  {log['__time__']}  {log['functionName']:<10} {log['message']}")

        step("POST /_fcemu/clock/advance?by=24h  (the log trigger and the nightly timer fire on the virtual clock)")
        _, _, body = request("POST", f"{services}/_fcemu/clock/advance?by=24h")
        clock = json.loads(body)
        print("now", clock["now"], "fired", [f["function"] + "@" + f["triggerTime"] for f in clock["fired"]])
        request("POST", f"{services}/_fcemu/idle?timeout=30")

        step("FC API: invoke nightly with x-fc-log-type: Tail  (what aliyun-fc2 sends)")
        status, headers, body = request(
            "POST",
            f"{services}/2016-08-15/services/default/functions/nightly/invocations",
            b'{"manual":true}',
            {"x-fc-log-type": "Tail", "Content-Type": "application/json"},
        )
        print(status, body.decode())
        print(base64.b64decode(headers["x-fc-log-result"]).decode(), end="")

        step("GET /_fcemu/invocations  (every invocation is recorded)")
        _, _, body = request("GET", f"{services}/_fcemu/invocations")
        for r in json.loads(body)["invocations"]:
            print(f"  {r['startedAt']}  {r['function']:<10} {r['trigger']:<11} {r['status']}  {r['durationMs']:.1f} ms")

        if serve:
            print(f"\nfcemu is serving the demo: gateway {gateway}, services {services}. Ctrl-C stops it.")
            proc.wait()
        else:
            print("\ndemo finished; `scripts/demo --serve` keeps the application running")
    except KeyboardInterrupt:
        pass
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
