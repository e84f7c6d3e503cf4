"""fcemu's Python bootstrap: serves FC's custom-runtime protocol on FC_SERVER_PORT and calls the
user's handler as FC does: handler(event: bytes, context)."""

import datetime
import http.server
import importlib
import io
import json
import logging
import os
import sys
import time
import traceback
import urllib.parse

import fcemu_reach

CODE_DIR = os.environ.get("FC_FUNC_CODE_PATH", ".")
sys.path.insert(0, CODE_DIR)
request_id = ""


class _Out:
    """stdout and stderr: each line becomes an FC log line of the current request."""

    def __init__(self, raw, level):
        self.raw, self.level, self.pending = raw, level, ""

    def write(self, text):
        self.pending += text
        while "\n" in self.pending:
            first, self.pending = self.pending.split("\n", 1)
            self.emit(first)
        return len(text)

    def emit(self, text):
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        self.raw.write(f"{now.replace('+00:00', 'Z')} {request_id} [{self.level}] {text}\n")
        self.raw.flush()

    def flush(self):
        if self.pending:
            line, self.pending = self.pending, ""
            self.emit(line)


fcemu_reach.install()  # beside this file: *.aliyuncs.com:80 reaches fcemu

_virtual_now = None


def _virtual_clock():
    """Deterministic runs: time.time() and datetime's now()/today() read the emulator's virtual
    clock, the time each request carries (`x-fcemu-now`)."""
    global _virtual_now
    if not os.environ.get("FCEMU_VIRTUAL_CLOCK"):
        return
    _virtual_now = 0.0
    time.time = lambda: _virtual_now
    time.time_ns = lambda: int(_virtual_now * 1_000_000_000)

    class VirtualDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls.fromtimestamp(_virtual_now, tz)

        @classmethod
        def utcnow(cls):
            return cls.fromtimestamp(_virtual_now, datetime.timezone.utc).replace(tzinfo=None)

        @classmethod
        def today(cls):
            return cls.fromtimestamp(_virtual_now)

    class VirtualDate(datetime.date):
        @classmethod
        def today(cls):
            return cls.fromtimestamp(_virtual_now)

    datetime.datetime = VirtualDatetime
    datetime.date = VirtualDate


_virtual_clock()
RAW = sys.stdout
sys.stdout = _Out(RAW, "INFO")
sys.stderr = _Out(RAW, "ERROR")


class _Formatter(logging.Formatter):
    def format(self, record):
        return record.getMessage()


logger = logging.getLogger()
_handler = logging.StreamHandler(sys.stdout)
_handler.setFormatter(_Formatter())
logger.addHandler(_handler)
logger.setLevel(logging.INFO)


class Credentials:
    def __init__(self, h):
        self.access_key_id = h.get("x-fc-access-key-id", "")
        self.access_key_secret = h.get("x-fc-access-key-secret", "")
        self.security_token = h.get("x-fc-security-token", "")


class FunctionMeta:
    def __init__(self, h):
        self.name = h.get("x-fc-function-name", "")
        self.handler = h.get("x-fc-function-handler", "")
        self.memory = int(h.get("x-fc-function-memory", "0") or 0)
        self.timeout = int(h.get("x-fc-function-timeout", "0") or 0)
        self.initializer = h.get("x-fc-function-initializer", "")
        self.initialization_timeout = int(h.get("x-fc-initialization-timeout", "0") or 0)


class ServiceMeta:
    def __init__(self, h):
        self.name = h.get("x-fc-service-name", "")
        self.log_project = h.get("x-fc-service-logproject", "")
        self.log_store = h.get("x-fc-service-logstore", "")
        self.qualifier = h.get("x-fc-qualifier", "LATEST")
        self.version_id = h.get("x-fc-version-id", "")


class Context:
    def __init__(self, h):
        self.request_id = h.get("x-fc-request-id", "")
        self.credentials = Credentials(h)
        self.function = FunctionMeta(h)
        self.service = ServiceMeta(h)
        self.region = h.get("x-fc-region") or os.environ.get("FC_REGION", "")
        self.account_id = h.get("x-fc-account-id") or os.environ.get("FC_ACCOUNT_ID", "")
        self.retry_count = int(h.get("x-fc-retry-count", "0") or 0)
        self.tracing = None
        self.logger = logger


def resolve(handler):
    module, _, name = handler.rpartition(".")
    if not module:
        raise ValueError(f"handler {handler} must be module.function")
    return getattr(importlib.import_module(module), name)


# Headers FC keeps from HTTP handlers, both ways (besides every x-fc-* header).
RESERVED = {"accept-encoding", "connection", "keep-alive", "proxy-authorization", "te", "trailer",
            "transfer-encoding"}


def visible(name):
    name = name.lower()
    return not name.startswith("x-fc-") and name not in RESERVED


def wsgi_call(app, request, event, ctx):
    """Runs a WSGI application (FC 2.0's Python HTTP handler) on one request; returns the status,
    the headers and the body."""
    path, _, query = request.path.partition("?")
    headers = [(k, v) for k, v in request.headers.items() if visible(k)]
    forwarded = request.headers.get("x-forwarded-for", "")
    environ = {
        "REQUEST_METHOD": request.command,
        "SCRIPT_NAME": "",
        "PATH_INFO": urllib.parse.unquote(path, encoding="latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": os.environ.get("FC_SERVER_PORT", "9000"),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": forwarded.split(",")[0].strip() or "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(event),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "fc.context": ctx,
        "fc.request_uri": request.path,
    }
    for k, v in headers:
        key = k.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = v
        else:
            key = "HTTP_" + key
            environ[key] = environ[key] + "," + v if key in environ else v
    environ.setdefault("CONTENT_LENGTH", str(len(event)))
    started = {}

    def start_response(status, response_headers, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started["status"], started["headers"] = status, response_headers
        return lambda data: started.setdefault("written", []).append(data)

    result = app(environ, start_response)
    try:
        chunks = [bytes(c) for c in result]
    finally:
        if hasattr(result, "close"):
            result.close()
    body = b"".join(started.get("written", []) + chunks)
    if "status" not in started:
        raise RuntimeError("the WSGI application returned without calling start_response")
    code = int(started["status"].split(" ", 1)[0])
    return code, [(k, v) for k, v in started["headers"] if visible(k)], body


HOOKS = {
    "/invoke": ("Invoke", "FC_FUNCTION_HANDLER"),
    "/http-invoke": ("Invoke", "FC_FUNCTION_HANDLER"),
    "/initialize": ("Initialize", "FC_INITIALIZER"),
    "/pre-stop": ("PreStop", "FC_PRE_STOP"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def serve(self):
        global request_id, _virtual_now
        h = {k.lower(): v for k, v in self.headers.items()}
        request_id = h.get("x-fc-request-id", "")
        if _virtual_now is not None and h.get("x-fcemu-now"):
            _virtual_now = int(h["x-fcemu-now"]) / 1000
        kind = h.get("x-fc-control-path") or self.path
        name, variable = HOOKS.get(kind, HOOKS["/invoke"])
        length = int(h.get("content-length", "0") or 0)
        event = self.rfile.read(length) if length else b""
        status, headers = 200, []
        try:
            fn = resolve(os.environ.get(variable, ""))
            ctx = Context(h)
            if kind == "/http-invoke":
                status, headers, value = wsgi_call(fn, self, event, ctx)
                headers.append(("x-fc-status", "200"))
            else:
                value = fn(event, ctx) if kind == "/invoke" else fn(ctx)
            if value is None:
                body = b""
            elif isinstance(value, (bytes, bytearray)):
                body = bytes(value)
            elif isinstance(value, str):
                body = value.encode()
            else:
                body = json.dumps(value).encode()
        except Exception as e:  # the function's error, reported as FC reports it
            tb = traceback.extract_tb(e.__traceback__)[1:]  # without this file's frame
            body = json.dumps({
                "errorMessage": str(e),
                "errorType": type(e).__name__,
                "stackTrace": [f'File "{f.filename}", line {f.lineno}, in {f.name}' for f in tb],
            }).encode()
            status = 404
            headers = [("x-fc-status", "404"), ("x-fcemu-error-type", "UnhandledInvocationError")]
        sys.stdout.flush()
        RAW.write(f"FC {name} End RequestId: {request_id}\n")
        RAW.flush()
        # One write per answer: the status line, the headers and the body together.
        reason = self.responses.get(status, ("",))[0]
        head = [f"HTTP/1.1 {status} {reason}\r\n"]
        head.extend(f"{k}: {v}\r\n" for k, v in headers if k.lower() != "content-length")
        if not any(k.lower() == "content-type" for k, _ in headers):
            head.append("content-type: application/octet-stream\r\n")
        head.append(f"content-length: {len(body)}\r\n\r\n")
        data = "".join(head).encode("latin-1", "replace")
        self.wfile.write(data if self.command == "HEAD" else data + body)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = serve


if __name__ == "__main__":
    server = http.server.HTTPServer(("127.0.0.1", int(os.environ["FC_SERVER_PORT"])), Handler)
    server.serve_forever()
