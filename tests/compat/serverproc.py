"""A server process started for a compatibility test: its address is read from the first lines
it prints (`fcemu: ready ... services=URL`, or an example server's `listening URL`)."""

import os
import re
import signal
import subprocess

ADDR_RE = re.compile(r"(?:listening |services=)(http://[0-9A-Za-z.:\[\]-]+)")


class ServerProcess:
    """Runs `command`; `endpoint` is the address it printed. `stop()` asks it to exit,
    `kill()` is kill -9 (no chance to flush anything)."""

    def __init__(self, command, env=None, cwd=None, what="the server", stderr=None):
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        self.endpoint = None
        for _ in range(50):
            line = self.proc.stdout.readline()
            if not line:
                break
            m = ADDR_RE.search(line)
            if m:
                self.endpoint = m.group(1)
                break
        if self.endpoint is None:
            self.kill()
            raise RuntimeError(f"{what} did not print its address")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
