"""Event-driven media processing: an image uploaded to `uploads` under `photos/` fires this
function (an OSS trigger). It decodes the image with Pillow, writes a thumbnail (at most
THUMB_SIZE pixels on a side, JPEG) to the thumbnails bucket and records the photo as a row of
Table Store table `photos`, whose change stream fires `audit`.

Cloud code: the real SDKs (oss2, tablestore) with the region's internal endpoints and the
temporary credentials Function Compute hands the function."""

import io
import json
import os

import oss2
import tablestore
from PIL import Image, UnidentifiedImageError

THUMB_SIZE = int(os.environ.get("THUMB_SIZE", "128"))


def handler(event, context):
    creds = context.credentials
    auth = oss2.StsAuth(creds.access_key_id, creds.access_key_secret, creds.security_token)
    endpoint = f"http://oss-{context.region}-internal.aliyuncs.com"
    instance = os.environ["OTS_INSTANCE"]
    ots = tablestore.OTSClient(
        f"http://{instance}.{context.region}.ots-internal.aliyuncs.com",
        creds.access_key_id,
        creds.access_key_secret,
        instance,
        sts_token=creds.security_token,
        retry_policy=tablestore.NoRetryPolicy(),
    )
    thumbs = oss2.Bucket(auth, endpoint, os.environ["THUMB_BUCKET"])
    done = []
    for record in json.loads(event)["events"]:
        key = record["oss"]["object"]["key"]
        source = oss2.Bucket(auth, endpoint, record["oss"]["bucket"]["name"])
        body = source.get_object(key).read()
        try:
            with Image.open(io.BytesIO(body)) as image:
                width, height = image.size
                image.thumbnail((THUMB_SIZE, THUMB_SIZE))
                out = io.BytesIO()
                image.convert("RGB").save(out, "JPEG", quality=85)
                thumb_width, thumb_height = image.size
        except UnidentifiedImageError:
            # Retrying cannot help: say so and go on with the other records.
            print(f"skipped {key}: not an image ({len(body)} bytes)")
            continue
        photo_id = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        thumb = f"thumbs/{photo_id}.jpg"
        thumbs.put_object(thumb, out.getvalue(), headers={"Content-Type": "image/jpeg"})
        row = tablestore.Row(
            [("id", photo_id)],
            [
                ("key", key),
                ("size", len(body)),
                ("width", width),
                ("height", height),
                ("thumb", thumb),
                ("thumb_width", thumb_width),
                ("thumb_height", thumb_height),
                ("uploaded", record["eventTime"]),
            ],
        )
        ots.put_row("photos", row)
        print(f"thumbnail {thumb} {thumb_width}x{thumb_height} for {key} {width}x{height}")
        done.append({"id": photo_id, "thumb": thumb, "width": thumb_width, "height": thumb_height})
    return {"thumbnails": done}
