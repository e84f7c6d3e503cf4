"""fcemu's Python bootstrap: serves FC's custom-runtime protocol on FC_SERVER_PORT and calls the
user's handler as FC does: handler(event: bytes, context)."""

import datetime
import http.server
import importlib
import json
import logging
import os
import sys
import traceback

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
        self.region = h.get("x-fc-region", "")
        self.account_id = h.get("x-fc-account-id", "")
        self.retry_count = int(h.get("x-fc-retry-count", "0") or 0)
        self.tracing = None
        self.logger = logger


def resolve(handler):
    module, _, name = handler.rpartition(".")
    if not module:
        raise ValueError(f"handler {handler} must be module.function")
    return getattr(importlib.import_module(module), name)


HOOKS = {
    "/invoke": ("Invoke", "FC_FUNCTION_HANDLER"),
    "/initialize": ("Initialize", "FC_INITIALIZER"),
    "/pre-stop": ("PreStop", "FC_PRE_STOP"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def serve(self):
        global request_id
        h = {k.lower(): v for k, v in self.headers.items()}
        request_id = h.get("x-fc-request-id", "")
        kind = h.get("x-fc-control-path") or self.path
        name, variable = HOOKS.get(kind, HOOKS["/invoke"])
        length = int(h.get("content-length", "0") or 0)
        event = self.rfile.read(length) if length else b""
        status, headers = 200, {}
        try:
            fn = resolve(os.environ.get(variable, ""))
            ctx = Context(h)
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
            headers = {"x-fc-status": "404", "x-fcemu-error-type": "UnhandledInvocationError"}
        sys.stdout.flush()
        RAW.write(f"FC {name} End RequestId: {request_id}\n")
        RAW.flush()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = serve
    do_GET = serve


if __name__ == "__main__":
    server = http.server.HTTPServer(("127.0.0.1", int(os.environ["FC_SERVER_PORT"])), Handler)
    server.serve_forever()
