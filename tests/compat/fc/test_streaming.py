"""HTTP pass-through is streamed both ways: a custom-runtime function behind an http trigger
sends its answer in pieces and the client reads the first before the function has written the
rest; a request body arrives at the function as the client sends it."""

import json
import os
import sys

import requests

from conftest import REPO
from serverproc import ServerProcess

SERVER = r'''
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

RELEASE, SEEN = sys.argv[1], sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.chunk(b"first piece\n")
        with open(RELEASE) as f:  # blocks until the test has read the first piece
            f.read()
        self.chunk(b"second piece\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_POST(self):
        # Says when the first piece of the request body has arrived (the client waits for
        # that before it sends the rest), then echoes the whole body.
        got = b""
        while True:
            size = int(self.rfile.readline().strip(), 16)
            if size == 0:
                self.rfile.readline()
                break
            got += self.rfile.read(size)
            self.rfile.readline()
            if len(got) >= 3 and not getattr(self, "told", False):
                self.told = True
                with open(SEEN, "w") as f:
                    f.write("seen")
        self.send_response(200)
        self.send_header("content-length", str(len(got)))
        self.end_headers()
        self.wfile.write(got)


HTTPServer(("127.0.0.1", int(os.environ["FC_SERVER_PORT"])), Handler).serve_forever()
'''


def test_http_pass_through_streams_the_answer_and_the_request(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "server.py").write_text(SERVER)
    release, seen = tmp_path / "release", tmp_path / "seen"
    os.mkfifo(release)
    os.mkfifo(seen)
    (tmp_path / "fcemu.toml").write_text(f'''
name = "stream"
[functions.stream]
runtime = "custom"
code = "code"
command = ["{sys.executable}", "server.py", "{release}", "{seen}"]
timeout = 30
  [[functions.stream.triggers]]
  type = "http"
  methods = ["GET", "POST"]
  path = "/stream"
''')
    binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
    ready = tmp_path / "ready.json"
    server = ServerProcess([binary, "up", "--listen", "127.0.0.1:0", "--in-memory", "--no-watch",
                            "--ready-file", str(ready)], cwd=tmp_path, what="fcemu up")
    gateway = json.loads(ready.read_text())["gateway"]
    try:
        with requests.get(f"{gateway}/stream", stream=True, timeout=20) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            # Buffered, this would wait for the whole answer, which waits for the release.
            assert next(lines) == b"first piece"
            with open(release, "w") as f:
                f.write("go")
            assert next(lines) == b"second piece"

        def pieces():
            yield b"abc"
            with open(seen) as f:  # buffered, the function would see nothing before the end
                assert f.read() == "seen"
            yield b"defgh"

        r = requests.post(f"{gateway}/stream", data=pieces(), timeout=20)
        assert r.status_code == 200 and r.text == "abcdefgh", r.text
    finally:
        server.stop()
