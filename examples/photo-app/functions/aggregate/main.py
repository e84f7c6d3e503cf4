"""Low-frequency device data: a timer every minute summarizes the readings of the minute before
its trigger time (Table Store `readings`, written by the API) into one row per device in
`summaries`: count, min, max and mean. On fcemu's virtual clock the minute passes when the
clock is advanced."""

import json
import os
from datetime import datetime, timedelta

import tablestore


def handler(event, context):
    fired = datetime.fromisoformat(json.loads(event)["triggerTime"].replace("Z", "+00:00"))
    end = fired.replace(second=0, microsecond=0)
    start = end - timedelta(minutes=1)
    lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    creds = context.credentials
    instance = os.environ["OTS_INSTANCE"]
    ots = tablestore.OTSClient(
        f"http://{instance}.{context.region}.ots-internal.aliyuncs.com",
        creds.access_key_id,
        creds.access_key_secret,
        instance,
        sts_token=creds.security_token,
        retry_policy=tablestore.NoRetryPolicy(),
    )
    values = {}
    begin = [("device", tablestore.INF_MIN), ("ts", tablestore.INF_MIN)]
    finish = [("device", tablestore.INF_MAX), ("ts", tablestore.INF_MAX)]
    while begin:
        _, begin, rows, _ = ots.get_range("readings", tablestore.Direction.FORWARD, begin, finish, limit=500)
        for row in rows:
            pk = dict(row.primary_key)
            if lo <= pk["ts"] < hi:
                attrs = {c[0]: c[1] for c in row.attribute_columns}
                values.setdefault(pk["device"], []).append(attrs["value"])
    minute = start.strftime("%Y-%m-%dT%H:%MZ")
    for device, vs in sorted(values.items()):
        row = tablestore.Row(
            [("device", device), ("minute", minute)],
            [("count", len(vs)), ("min", min(vs)), ("max", max(vs)), ("mean", round(sum(vs) / len(vs), 3))],
        )
        ots.put_row("summaries", row)
    print(f"summarized {sum(map(len, values.values()))} reading(s) of {len(values)} device(s) for {minute}")
    return {"minute": minute, "devices": len(values)}
