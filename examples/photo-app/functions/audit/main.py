"""Change stream -> logs: every change to Table Store table `photos` (a tablestore trigger,
records in CBOR as Function Compute delivers them) becomes an audit entry in the Log Service
logstore LOG_PROJECT/LOG_STORE, searchable and queryable with SQL."""

import os

import cbor2
from aliyun.log import LogClient, LogItem, PutLogsRequest


def columns(cols):
    return {c["ColumnName"]: c.get("Value") for c in cols or []}


def handler(event, context):
    creds = context.credentials
    logs = LogClient(
        f"{context.region}-intranet.log.aliyuncs.com",
        creds.access_key_id,
        creds.access_key_secret,
        securityToken=creds.security_token,
    )
    items = []
    for record in cbor2.loads(event)["Records"]:
        key = columns(record["PrimaryKey"])
        attrs = columns(record.get("Columns"))
        contents = [("op", record["Type"]), ("table", "photos"), ("id", str(key.get("id")))]
        for name in ("key", "size", "width", "height"):
            if name in attrs:
                contents.append((name, str(attrs[name])))
        items.append(LogItem(contents=contents))
    logs.put_logs(PutLogsRequest(os.environ["LOG_PROJECT"], os.environ["LOG_STORE"], "photos", "", items))
    print(f"audited {len(items)} change(s)")
    return {"audited": len(items)}
