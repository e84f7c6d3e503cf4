"""Prepares the Table Store and Log Service rows of scripts/bench: creates a table and a logstore
on a running fcemu with the real SDKs, records the exact requests the SDKs send (GetRow, PutRow)
or build (PutLogs with 100 logs), and writes one wrk script per request into OUT_DIR.

Usage: bench-requests.py SERVICES_URL OUT_DIR
"""

import os
import sys
from pathlib import Path

from aliyun.log import LogClient
from aliyun.log.log_logs_pb2 import LogGroup
from tablestore import OTSClient, Row, TableMeta, TableOptions, ReservedThroughput, CapacityUnit
from tablestore import connection

services, out = sys.argv[1], Path(sys.argv[2])
host = services.split("://", 1)[1]


def wrk_script(name, method, path, headers, body):
    (out / f"{name}.body").write_bytes(body)
    lines = [
        f'wrk.method = "{method}"',
        f'wrk.path = "{path}"',
        f'local f = io.open("{out / (name + ".body")}", "rb")',
        "wrk.body = f:read(\"*all\")",
        "f:close()",
    ]
    for k, v in headers.items():
        if k.lower() not in ("content-length", "host", "connection"):
            lines.append(f'wrk.headers["{k}"] = "{v}"')
    (out / f"{name}.lua").write_text("\n".join(lines) + "\n")


# Table Store: the SDK checks response signatures with its secret, so the secret is the key id.
captured = {}
original = connection.ConnectionPool.send_receive


def capture(self, url, headers, body):
    captured[url.rsplit("/", 1)[-1]] = (url, dict(headers), body)
    return original(self, url, headers, body)


connection.ConnectionPool.send_receive = capture
ots = OTSClient(services, "bench", "bench", "bench", logger_name="bench")
ots.create_table(
    TableMeta("bench", [("id", "STRING")]),
    TableOptions(),
    ReservedThroughput(CapacityUnit(0, 0)),
)
row = Row([("id", "row-1")], [("payload", "x" * 1024)])
ots.put_row("bench", row)
ots.get_row("bench", [("id", "row-1")], max_version=1)
for op in ("GetRow", "PutRow"):
    url, headers, body = captured[op]
    wrk_script(op.lower(), "POST", "/" + op, headers, body if isinstance(body, bytes) else body.encode())

# Log Service: 100 logs of 5 fields in one uncompressed group, to a project named in the host.
os.environ["HTTP_PROXY"] = os.environ["http_proxy"] = services
logs = LogClient(host, "bench", "bench")
logs.create_project("bench-logs", "bench")
logs.create_logstore("bench-logs", "events", shard_count=2)
group = LogGroup(Topic="bench", Source="127.0.0.1")
for i in range(100):
    log = group.Logs.add()
    log.Time = 1_700_000_000 + i
    for k in ("level", "msg", "user", "path", "ms"):
        c = log.Contents.add()
        c.Key, c.Value = k, f"{k}-{i}"
body = group.SerializeToString()
wrk_script(
    "putlogs",
    "POST",
    "/logstores/events/shards/lb",
    {
        "x-log-apiversion": "0.6.0",
        "x-log-bodyrawsize": str(len(body)),
        "x-log-signaturemethod": "hmac-sha1",
        "Content-Type": "application/x-protobuf",
    },
    body,
)
# wrk sets Host from the URL unless the script names one: the project is in the host name.
with open(out / "putlogs.lua", "a") as lua:
    lua.write(f'wrk.headers["Host"] = "bench-logs.{host}"\n')
