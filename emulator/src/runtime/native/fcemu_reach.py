"""Plain-http connections to the region's service domains (`*.aliyuncs.com`, port 80) go to
fcemu's services port (FCEMU_ENDPOINT), whichever HTTP library makes them: SDKs that ignore
HTTP_PROXY (the Table Store SDK's urllib3 pool, the BatchCompute SDK's http.client) reach the
emulator too. The Host header is unchanged. The Python bootstrap installs it in every instance;
`fcemu exec` installs it in the Python programs it runs (as their sitecustomize)."""

import os
import socket
import urllib.parse


def install():
    edge = urllib.parse.urlsplit(os.environ.get("FCEMU_ENDPOINT", ""))
    if not edge.hostname or not edge.port:
        return
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if (isinstance(name, str) and name.lower().rstrip(".").endswith(".aliyuncs.com")
                and str(port) in ("80", "http")):
            return real(edge.hostname, edge.port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
