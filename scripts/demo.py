"""Walks through the photo app (examples/photo-app) on fcemu with the real SDKs: starts `fcemu up`
on it, then runs each scenario as one titled step with its result.

    demo.py FCEMU_BINARY APP_DIR [--once]

--once exits after the walkthrough with its status; without it the app stays up until Ctrl-C."""

import json
import logging
import os
import statistics
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import oss2
import requests

logging.getLogger("tablestore").setLevel(logging.ERROR)  # its "no native encoder" notice
import tablestore  # noqa: E402
from aliyun.log import GetLogsRequest, LogClient  # noqa: E402

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")
KEY_ID = SECRET = "fcemu-demo"  # any credentials work; Table Store clients want secret == id
STARTED = time.monotonic()


def step(n, title):
    print(f"\n{BOLD}{n}. {title}{RESET}  {DIM}[{time.monotonic() - STARTED:.1f}s]{RESET}", flush=True)


def show(label, value):
    print(f"   {label:<22} {value}", flush=True)


def jpeg_size(data):
    """(width, height) from a JPEG's frame header."""
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    raise ValueError("no JPEG frame header")


class Demo:
    def __init__(self, ready, app_dir):
        self.services, self.gateway = ready["services"], ready["gateway"]
        self.app_dir = app_dir
        self.proxy = {"http": self.services}  # the services port is also an HTTP proxy
        auth = oss2.Auth(KEY_ID, SECRET)
        self.uploads = oss2.Bucket(auth, self.services, "uploads", is_cname=True)
        self.thumbnails = oss2.Bucket(auth, self.services, "thumbnails", is_cname=True)
        self.ots = tablestore.OTSClient(self.services, KEY_ID, SECRET, "photoapp", retry_policy=tablestore.NoRetryPolicy())
        os.environ["HTTP_PROXY"] = self.services  # the Log Service SDK puts the project in the host
        self.logs = LogClient(self.services.split("://", 1)[1], KEY_ID, SECRET)

    def admin(self, method, path, **kw):
        r = requests.request(method, f"{self.services}/_fcemu/{path}", timeout=60, **kw)
        r.raise_for_status()
        return r.json()

    def idle(self):
        self.admin("POST", "idle?timeout=60")

    def invocations(self, function, since=0):
        return self.admin("GET", "invocations", params={"function": function, "since": since})["invocations"]

    def last_seq(self):
        records = self.admin("GET", "invocations")["invocations"]
        return max((r["seq"] for r in records), default=0)

    def run(self):
        photo = (self.app_dir / "tests" / "sunset.jpg").read_bytes()

        step(1, "Upload a photo to OSS (oss2)  ->  OSS trigger  ->  Pillow thumbnail + Table Store row")
        self.uploads.put_object("photos/sunset.jpg", photo, headers={"Content-Type": "image/jpeg"})
        show("uploaded", f"uploads/photos/sunset.jpg, {len(photo)} bytes, {jpeg_size(photo)[0]}x{jpeg_size(photo)[1]}")
        self.idle()
        (thumb_call,) = self.invocations("thumbnail")
        assert thumb_call["status"] == "success", thumb_call
        show("thumbnail function", f"{thumb_call['status']} in {thumb_call['durationMs']:.0f} ms ({thumb_call['trigger']})")
        show("its log", thumb_call["logs"][-1].split(" [INFO] ")[-1])
        thumb = self.thumbnails.get_object("thumbs/sunset.jpg").read()
        w, h = jpeg_size(thumb)
        assert max(w, h) == 128, (w, h)
        show("thumbnails/thumbs/sunset.jpg", f"{len(thumb)} bytes, a real {w}x{h} JPEG")
        _, row, _ = self.ots.get_row("photos", [("id", "sunset")], max_version=1)
        cols = {c[0]: c[1] for c in row.attribute_columns}
        assert (cols["width"], cols["height"]) == (640, 480), cols
        show("row photos/sunset", {k: cols[k] for k in ("key", "size", "width", "height", "thumb", "uploaded")})

        step(2, "Change stream  ->  audit function  ->  Log Service (aliyun-log: search and SQL)")
        (audit_call,) = self.invocations("audit")
        assert audit_call["status"] == "success", audit_call
        show("audit function", f"{audit_call['status']} ({audit_call['trigger']}, CBOR records of the photos stream)")
        search = self.logs.get_logs(GetLogsRequest("photo-app", "audit", 0, 4102444800, query="op: PutRow and id: sunset"))
        entries = [dict(log.get_contents()) for log in search.get_logs()]
        assert len(entries) == 1, entries
        show("search op: PutRow ...", {k: entries[0][k] for k in ("op", "id", "width", "height")})
        sql = self.logs.get_logs(GetLogsRequest("photo-app", "audit", 0, 4102444800, query="* | select count(*) as changes"))
        show("* | select count(*)", dict(sql.get_logs()[0].get_contents()))

        step(3, "The API: an Express app in a Node.js function, behind the API Gateway")
        r = requests.post(f"{self.gateway}/photos", params={"name": "harbor.jpg"},
                          data=(self.app_dir / "tests" / "harbor.jpg").read_bytes(), headers={"Content-Type": "image/jpeg"}, timeout=30)
        assert r.status_code == 202, r.text
        show("POST /photos", f"{r.status_code} {r.json()}  (ali-oss put; the OSS trigger fires)")
        self.idle()
        r = requests.get(f"{self.gateway}/photos", timeout=30)
        listed = r.json()["photos"]
        assert [p["id"] for p in listed] == ["harbor", "sunset"], listed
        show("GET /photos", f"{r.status_code} " + ", ".join(f"{p['id']} {p['width']}x{p['height']}" for p in listed) + "  (tablestore SDK)")
        one = requests.get(f"{self.gateway}/photos/harbor", timeout=30).json()
        show("GET /photos/harbor", f"thumbnail {one['thumb_width']}x{one['thumb_height']}, thumbnailUrl presigned by ali-oss:")
        print(f"   {DIM}{one['thumbnailUrl']}{RESET}")
        got = requests.get(one["thumbnailUrl"], proxies=self.proxy, timeout=30)
        assert got.status_code == 200 and jpeg_size(got.content) == (one["thumb_width"], one["thumb_height"]), got.status_code
        show("GET thumbnailUrl", f"{got.status_code} {got.headers['content-type']}, {len(got.content)} bytes (the cloud URL, through the proxy)")
        missing = requests.get(f"{self.gateway}/photos/nope", timeout=30)
        show("GET /photos/nope", f"{missing.status_code} {missing.json()}")

        step(4, "Device data: readings through the API, a timer every minute on the virtual clock")
        for device, values in (("sensor-1", [21.5, 22.0, 23.5, 22.5]), ("sensor-2", [18.0, 19.0])):
            r = requests.post(f"{self.gateway}/devices/{device}/readings", json={"readings": [{"value": v} for v in values]}, timeout=30)
            assert r.status_code == 201, r.text
            show(f"POST {device}", f"{r.status_code} {r.json()}")
        clock = self.admin("POST", "clock/advance", params={"by": "1m"})
        fired = [f"{f['function']} at {f['triggerTime']}" for f in clock["fired"]]
        show("advance the clock 1m", f"now {clock['now']}, fired: {', '.join(fired)}")
        self.idle()
        (agg,) = self.invocations("aggregate")
        show("aggregate function", agg["logs"][-1].split(" [INFO] ")[-1])
        summaries = requests.get(f"{self.gateway}/devices/sensor-1/summaries", timeout=30).json()["summaries"]
        assert summaries and summaries[0]["count"] == 4, summaries
        show("GET sensor-1/summaries", summaries)

        step(5, "A burst: 40 concurrent GET /photos against concurrency = 4")
        since = self.last_seq()

        def one_call(_):
            t = time.monotonic()
            r = requests.get(f"{self.gateway}/photos", timeout=30)
            return r.status_code, (time.monotonic() - t) * 1000

        with ThreadPoolExecutor(40) as pool:
            results = list(pool.map(one_call, range(40)))
        self.idle()
        codes = [c for c, _ in results]
        ok = sorted(ms for c, ms in results if c == 200)
        calls = self.invocations("api", since)
        instances = {c["instanceId"] for c in calls}
        assert set(codes) <= {200, 429} and ok, codes
        show("answers", f"{codes.count(200)} x 200, {codes.count(429)} x 429 ResourceThrottled")
        started = sum(any("FC Initialize Start" in line for line in c["logs"]) for c in calls)
        show("instances", f"{len(instances)} busy at once at most (concurrency = 4); {started} started for the burst")
        p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))]
        show("latency of the 200s", f"p50 {statistics.median(ok):.0f} ms, p99 {p99:.0f} ms")

        print(f"\n{BOLD}done{RESET} in {time.monotonic() - STARTED:.1f}s: every step ran on the real SDKs against fcemu.")


def start(binary, app_dir, once):
    args = [binary, "up", "--in-memory", "--deterministic"]
    if once:
        args += ["--listen", "127.0.0.1:0", "--no-watch"]
    log_path = app_dir / ".fcemu" / "demo.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")
    proc = subprocess.Popen(args, cwd=app_dir, stdout=subprocess.PIPE, stderr=log, text=True)
    for line in proc.stdout:
        if line.startswith("fcemu: ready"):
            return proc, dict(kv.split("=", 1) for kv in line.split()[2:]), log_path
    proc.wait()
    sys.exit(f"fcemu did not start; its output:\n{log_path.read_text()}")


def main():
    binary, app_dir, once = sys.argv[1], Path(sys.argv[2]).resolve(), "--once" in sys.argv[3:]
    proc, ready, log_path = start(binary, app_dir, once)
    print(f"fcemu is serving {app_dir.name}: gateway {ready['gateway']}, services {ready['services']}")
    print(f"{BOLD}dashboard: {ready['ui']}{RESET}")
    print(f"{DIM}(fcemu's own output: {log_path}){RESET}")
    status = 0
    try:
        Demo(ready, app_dir).run()
        if not once:
            print(f"\nThe app stays up (Ctrl-C stops it); edit a function under {app_dir}/functions and it reloads.")
            print(f"Open the dashboard at {ready['ui']}, or try:")
            print(f"   curl {ready['gateway']}/photos")
            print(f"   curl {ready['services']}/_fcemu/invocations?function=thumbnail")
            print(f"   curl -X POST '{ready['services']}/_fcemu/clock/advance?by=5m'")
            proc.wait()
    except KeyboardInterrupt:
        pass
    except Exception as e:  # a failed step: say which, with fcemu's output
        status = 1
        print(f"\nFAILED: {type(e).__name__}: {e}\n--- fcemu output ({log_path}) ---\n{log_path.read_text()[-4000:]}", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    sys.exit(status)


if __name__ == "__main__":
    main()
