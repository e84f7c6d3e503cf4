// The photo app's HTTP API, written for the cloud: an Express app started once per instance (in
// the initializer), fed the API Gateway's events by the handler. It uses the Table Store and OSS
// Node.js SDKs with the region's internal endpoints and the credentials Function Compute hands
// the function; nothing here knows about the emulator.
//
//   GET  /photos                    the photos the thumbnailer recorded (Table Store `photos`)
//   GET  /photos/:id                one photo, with a presigned URL of its thumbnail
//   POST /photos?name=cat.jpg       stores the body in `uploads` under photos/ (which fires the
//                                   thumbnailer)
//   POST /devices/:id/readings      {"value": 21.5} or {"readings": [{"value": ..., "ts": ...}]}
//   GET  /devices/:id/summaries     the per-minute summaries the `aggregate` timer wrote
'use strict';
const http = require('http');
const crypto = require('crypto');
const express = require('express');
const OSS = require('ali-oss');
const TableStore = require('tablestore');

const instance = process.env.OTS_INSTANCE;
let ots;
let uploads;
let thumbnails;
let port;

// The function's temporary credentials, as of the latest call (FC rotates them).
let credentials;

// Clients for one instance, with the function's (temporary) credentials.
function clients(context) {
  credentials = context.credentials;
  const { accessKeyId, accessKeySecret, securityToken } = credentials;
  const region = context.region;
  ots = new TableStore.Client({
    accessKeyId,
    secretAccessKey: accessKeySecret,
    stsToken: securityToken,
    endpoint: `http://${instance}.${region}.ots-internal.aliyuncs.com`,
    instancename: instance,
    maxRetries: 0,
  });
  const oss = (bucket, internal) => new OSS({
    region: `oss-${region}`,
    accessKeyId,
    accessKeySecret,
    stsToken: securityToken,
    bucket,
    internal,
    secure: false,
    refreshSTSToken: async () => ({
      accessKeyId: credentials.accessKeyId,
      accessKeySecret: credentials.accessKeySecret,
      stsToken: credentials.securityToken,
    }),
    refreshSTSTokenInterval: 300000,
  });
  uploads = oss(process.env.UPLOAD_BUCKET, true);
  // Public endpoint: the presigned URLs it makes are handed to browsers.
  thumbnails = oss(process.env.THUMB_BUCKET, false);
}

// Table Store calls as promises.
const call = (op, params) => new Promise((resolve, reject) => {
  ots[op](params, (err, data) => (err ? reject(err) : resolve(data)));
});

// A Table Store value as plain JSON (integers come back as Int64).
const plain = (v) => (v && typeof v.toNumber === 'function' ? v.toNumber() : v);

// A row as an object of its primary key and attribute columns.
function record(row) {
  const out = {};
  for (const pk of row.primaryKey || []) out[pk.name] = plain(pk.value);
  for (const a of row.attributes || []) out[a.columnName] = plain(a.columnValue);
  return out;
}

// Every row of a range, following the next start key.
async function range(tableName, start, end) {
  const rows = [];
  let from = start;
  while (from) {
    const data = await call('getRange', {
      tableName,
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: from,
      exclusiveEndPrimaryKey: end,
      limit: 100,
    });
    rows.push(...data.rows.map(record));
    from = data.nextStartPrimaryKey
      ? data.nextStartPrimaryKey.map((c) => ({ [c.name]: c.value }))
      : null;
  }
  return rows;
}

const app = express();
app.use(express.json());
app.use(express.raw({ type: 'image/*', limit: '10mb' }));
const wrap = (fn) => (req, res, next) => fn(req, res).catch(next);

app.get('/photos', wrap(async (req, res) => {
  const photos = await range('photos', [{ id: TableStore.INF_MIN }], [{ id: TableStore.INF_MAX }]);
  res.json({ photos });
}));

app.get('/photos/:id', wrap(async (req, res) => {
  const data = await call('getRow', {
    tableName: 'photos',
    primaryKey: [{ id: req.params.id }],
    maxVersions: 1,
  });
  if (!data.row || !data.row.primaryKey) {
    return res.status(404).json({ error: 'NotFound', message: `no photo ${req.params.id}` });
  }
  const photo = record(data.row);
  photo.thumbnailUrl = thumbnails.signatureUrl(photo.thumb, { expires: 3600 });
  res.json(photo);
}));

app.post('/photos', wrap(async (req, res) => {
  if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
    return res.status(400).json({ error: 'InvalidArgument', message: 'send the image as the body with an image/* content-type' });
  }
  const name = String(req.query.name || `${crypto.randomUUID()}.jpg`).replace(/[^\w.-]/g, '_');
  const key = `photos/${name}`;
  await uploads.put(key, req.body, { mime: req.get('content-type') });
  console.log('uploaded', key, req.body.length, 'bytes');
  res.status(202).json({ key, id: name.replace(/\.[^.]*$/, ''), size: req.body.length });
}));

app.post('/devices/:id/readings', wrap(async (req, res) => {
  const body = req.body || {};
  const readings = Array.isArray(body.readings) ? body.readings : [body];
  if (readings.some((r) => typeof r.value !== 'number')) {
    return res.status(400).json({ error: 'InvalidArgument', message: 'each reading needs a numeric "value"' });
  }
  const now = Date.now();
  const rows = readings.map((r, i) => ({
    type: 'PUT',
    condition: new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null),
    primaryKey: [{ device: req.params.id }, { ts: TableStore.Long.fromNumber(r.ts || now + i) }],
    attributeColumns: [{ value: r.value }],
  }));
  await call('batchWriteRow', { tables: [{ tableName: 'readings', rows }] });
  res.status(201).json({ device: req.params.id, stored: rows.length });
}));

app.get('/devices/:id/summaries', wrap(async (req, res) => {
  const summaries = await range(
    'summaries',
    [{ device: req.params.id }, { minute: TableStore.INF_MIN }],
    [{ device: req.params.id }, { minute: TableStore.INF_MAX }],
  );
  res.json({ device: req.params.id, summaries });
}));

app.use((err, req, res, next) => {
  console.error('request failed:', err.code || '', err.message);
  res.status(500).json({ error: err.code || 'InternalError', message: err.message });
});

// Once per instance: the clients and the Express server on a local port.
exports.initializer = (context, callback) => {
  clients(context);
  const server = app.listen(0, '127.0.0.1', () => {
    port = server.address().port;
    console.log('express listening');
    callback(null, '');
  });
};

// One API Gateway event -> one request to the Express app; its response -> the result API
// Gateway expects.
exports.handler = (event, context, callback) => {
  credentials = context.credentials;
  const e = JSON.parse(event.toString());
  const body = e.body ? Buffer.from(e.body, e.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  const query = new URLSearchParams(e.queryParameters || {}).toString();
  const headers = {};
  for (const [k, v] of Object.entries(e.headers || {})) {
    if (k.toLowerCase() !== 'content-length') headers[k] = v;
  }
  headers['content-length'] = body.length;
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: e.httpMethod,
    path: e.path + (query ? `?${query}` : ''),
    headers,
  }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const out = {};
      for (const [k, v] of Object.entries(res.headers)) out[k] = Array.isArray(v) ? v.join(',') : v;
      callback(null, {
        isBase64Encoded: true,
        statusCode: res.statusCode,
        headers: out,
        body: Buffer.concat(chunks).toString('base64'),
      });
    });
  });
  req.on('error', (err) => callback(err));
  req.end(body);
};
