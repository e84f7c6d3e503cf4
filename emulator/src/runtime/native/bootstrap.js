// fcemu's Node.js bootstrap: serves FC's custom-runtime protocol on FC_SERVER_PORT and calls
// the user's handler with FC's signatures: (event, context, callback) or async (event, context).
'use strict';
const http = require('http');
const path = require('path');
const { Readable } = require('stream');
const util = require('util');

// Plain-http connections to the region's service domains (`*.aliyuncs.com`, port 80) go to
// fcemu's services port, whichever client makes them (http agents, net.connect); the Host
// header is unchanged, so SDKs naming the cloud's endpoints reach the emulator.
(function reachFcemu() {
  let edge;
  try { edge = new URL(process.env.FCEMU_ENDPOINT || ''); } catch (e) { return; }
  const net = require('net');
  const redirect = (opts) => {
    const host = String(opts.host || opts.hostname || '').toLowerCase().replace(/\.$/, '');
    const port = Number(opts.port || 80);
    if (!host.endsWith('.aliyuncs.com') || port !== 80 || opts.path) return opts;
    return Object.assign({}, opts, { host: edge.hostname, hostname: edge.hostname, port: Number(edge.port) });
  };
  for (const name of ['connect', 'createConnection']) {
    const real = net[name];
    net[name] = function (...args) {
      if (args[0] && typeof args[0] === 'object') args[0] = redirect(args[0]);
      return real.apply(this, args);
    };
  }
  http.Agent.prototype.createConnection = function (options, cb) {
    return net.createConnection(redirect(options), cb);
  };
})();

// Deterministic runs: Date reads the emulator's virtual clock, the time each request carries.
let setNow = () => {};
if (process.env.FCEMU_VIRTUAL_CLOCK) {
  const RealDate = Date;
  let now = 0;
  function VirtualDate(...args) {
    if (!new.target) return new RealDate(now).toString();
    return args.length ? new RealDate(...args) : new RealDate(now);
  }
  VirtualDate.prototype = RealDate.prototype;
  VirtualDate.now = () => now;
  VirtualDate.parse = RealDate.parse;
  VirtualDate.UTC = RealDate.UTC;
  global.Date = VirtualDate;
  setNow = (ms) => { now = ms; };
}

const codeDir = process.env.FC_FUNC_CODE_PATH;
const port = Number(process.env.FC_SERVER_PORT);
let requestId = '';

function line(level, args) {
  const text = util.format(...args);
  process.stdout.write(`${new Date().toISOString()} ${requestId} [${level}] ${text}\n`);
}
console.log = (...a) => line('verbose', a);
console.info = (...a) => line('info', a);
console.warn = (...a) => line('warn', a);
console.error = (...a) => line('error', a);
console.debug = (...a) => line('debug', a);
const logger = {
  debug: (...a) => line('debug', a),
  info: (...a) => line('info', a),
  warn: (...a) => line('warn', a),
  error: (...a) => line('error', a),
  log: (...a) => line('info', a),
};

function resolve(handler) {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw new Error(`handler ${handler} must be file.export`);
  const mod = require(path.join(codeDir, handler.slice(0, dot)));
  const fn = mod[handler.slice(dot + 1)];
  if (typeof fn !== 'function') {
    throw new Error(`${handler.slice(dot + 1)} is not exported by ${handler.slice(0, dot)}`);
  }
  return fn;
}

function context(h) {
  return {
    requestId: h['x-fc-request-id'] || '',
    credentials: {
      accessKeyId: h['x-fc-access-key-id'] || '',
      accessKeySecret: h['x-fc-access-key-secret'] || '',
      securityToken: h['x-fc-security-token'] || '',
    },
    function: {
      name: h['x-fc-function-name'] || '',
      handler: h['x-fc-function-handler'] || '',
      memory: Number(h['x-fc-function-memory'] || 0),
      timeout: Number(h['x-fc-function-timeout'] || 0),
      initializer: h['x-fc-function-initializer'] || '',
      initializationTimeout: Number(h['x-fc-initialization-timeout'] || 0),
    },
    service: {
      name: h['x-fc-service-name'] || '',
      logProject: h['x-fc-service-logproject'] || '',
      logStore: h['x-fc-service-logstore'] || '',
      qualifier: h['x-fc-qualifier'] || 'LATEST',
      versionId: h['x-fc-version-id'] || '',
    },
    region: h['x-fc-region'] || process.env.FC_REGION || '',
    accountId: h['x-fc-account-id'] || process.env.FC_ACCOUNT_ID || '',
    retryCount: Number(h['x-fc-retry-count'] || 0),
    tracing: {},
    logger,
  };
}

function errorBody(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  const stack = (e.stack || '').split('\n').slice(1).map((s) => s.trim())
    .filter((s) => s && !s.includes(__filename) && !s.includes('(node:'));
  return JSON.stringify({ errorMessage: e.message, errorType: e.name || 'Error', stackTrace: stack });
}

// Calls fn(...args, callback) and settles once: by the callback or by a returned promise.
function call(fn, args) {
  return new Promise((resolveCall, rejectCall) => {
    let done = false;
    // callback(err) is FC's HandledInvocationError; a throw or a rejected promise is not.
    const settle = (err, value, handled = true) => {
      if (done) return;
      done = true;
      if (err !== null && err !== undefined) rejectCall({ handled, err });
      else resolveCall(value);
    };
    try {
      const r = fn(...args, settle);
      if (r && typeof r.then === 'function') {
        r.then((v) => settle(null, v), (e) => settle(e === undefined ? new Error('rejected') : e, null, false));
      } else if (fn.length <= args.length) {
        settle(null, r);
      }
    } catch (err) {
      if (!done) {
        done = true;
        rejectCall({ handled: false, err });
      }
    }
  });
}

function encode(value) {
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value);
  return Buffer.from(JSON.stringify(value));
}

// Headers FC keeps from HTTP handlers, both ways (besides every x-fc-* header).
const RESERVED = new Set(['accept-encoding', 'connection', 'keep-alive', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding']);
const visible = (k) => !k.startsWith('x-fc-') && !RESERVED.has(k);

// FC 2.0's HTTP handler request: a readable stream of the body (for raw-body) with headers,
// path, queries, method, clientIP, url, and the whole body as `body`.
function httpRequest(req, body) {
  const r = new Readable({ read() { this.push(body); this.push(null); } });
  const url = new URL(req.url, 'http://localhost');
  const queries = {};
  for (const [k, v] of url.searchParams) {
    if (k in queries) queries[k] = [].concat(queries[k], v);
    else queries[k] = v;
  }
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (visible(k)) headers[k] = v;
  const forwarded = req.headers['x-forwarded-for'];
  return Object.assign(r, {
    headers,
    path: decodeURIComponent(url.pathname),
    queries,
    method: req.method,
    clientIP: forwarded ? forwarded.split(',')[0].trim() : '127.0.0.1',
    url: req.url,
    body,
  });
}

// FC 2.0's HTTP handler response; settles `done` with {status, headers, body} on send().
function httpResponse(done) {
  const headers = {};
  let status = 200;
  let sent = false;
  const finish = (body) => {
    if (sent) return;
    sent = true;
    done({ status, headers, body });
  };
  return {
    setStatusCode(code) { status = Number(code); },
    setHeader(k, v) {
      const key = String(k).toLowerCase();
      if (visible(key) && key !== 'content-length') headers[key] = v;
    },
    deleteHeader(k) { delete headers[String(k).toLowerCase()]; },
    send(body) {
      if (body && typeof body.pipe === 'function') {
        const chunks = [];
        body.on('data', (c) => chunks.push(Buffer.from(c)));
        body.on('end', () => finish(Buffer.concat(chunks)));
        body.on('error', (e) => done({ error: e }));
      } else {
        finish(encode(body));
      }
    },
  };
}

// Runs an HTTP handler: resolves with the response once it calls send(), rejects when it
// throws or its promise rejects.
function callHttp(fn, req, body, ctx) {
  return new Promise((resolveCall, rejectCall) => {
    const resp = httpResponse((r) => (r.error ? rejectCall({ handled: false, err: r.error }) : resolveCall(r)));
    try {
      const r = fn(httpRequest(req, body), resp, ctx);
      if (r && typeof r.then === 'function') r.then(null, (err) => rejectCall({ handled: false, err }));
    } catch (err) {
      rejectCall({ handled: false, err });
    }
  });
}

const hooks = {
  '/invoke': () => process.env.FC_FUNCTION_HANDLER,
  '/initialize': () => process.env.FC_INITIALIZER,
  '/pre-stop': () => process.env.FC_PRE_STOP,
};

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const h = req.headers;
    requestId = h['x-fc-request-id'] || '';
    if (h['x-fcemu-now']) setNow(Number(h['x-fcemu-now']));
    const kind = h['x-fc-control-path'] || req.url;
    const names = { '/invoke': 'Invoke', '/http-invoke': 'Invoke', '/initialize': 'Initialize' };
    const name = names[kind] || 'PreStop';
    const finish = (status, body, extra) => {
      process.stdout.write(`FC ${name} End RequestId: ${requestId}\n`);
      res.writeHead(status, Object.assign({ 'content-type': 'application/octet-stream' }, extra || {}));
      res.end(body);
    };
    try {
      const ctx = context(h);
      if (kind === '/http-invoke') {
        const fn = resolve(process.env.FC_FUNCTION_HANDLER);
        const r = await callHttp(fn, req, Buffer.concat(chunks), ctx);
        finish(r.status, r.body, Object.assign({}, r.headers, { 'x-fc-status': '200' }));
        return;
      }
      const fn = resolve(hooks[kind] ? hooks[kind]() : process.env.FC_FUNCTION_HANDLER);
      const args = kind === '/invoke' ? [Buffer.concat(chunks), ctx] : [ctx];
      const value = await call(fn, args);
      finish(200, encode(value));
    } catch (failure) {
      const handled = failure && failure.handled;
      const err = failure && 'err' in failure ? failure.err : failure;
      finish(404, errorBody(err), {
        'x-fc-status': '404',
        'x-fcemu-error-type': handled ? 'HandledInvocationError' : 'UnhandledInvocationError',
      });
    }
  });
}).listen(port, '127.0.0.1');

process.on('uncaughtException', (err) => {
  line('error', [err && err.stack ? err.stack : String(err)]);
  process.exit(129);
});
