"""Opens N keep-alive connections to a server, makes one request on each, and keeps them all open and idle.

    python3 idle_connections.py HOST PORT N PATH

Connections are opened in batches (so the listen backlog is never the limit); on each, one GET of PATH
must answer 200 without closing the connection. When all N are open and answered, prints
"ready <open>" and waits for a line on standard input (or its end), then closes them all. Exits
non-zero when a connection fails, is refused (the server answers 503 over its limits) or closes.
Needs a descriptor limit above N (the caller raises `ulimit -n`).
"""
import selectors
import socket
import sys

host, port, count, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
batch = 500
selector = selectors.DefaultSelector()
sockets = []


def answer_complete(data):
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(body) >= length


def open_batch(size):
    pending = {}
    for _ in range(size):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect((host, port))
        s.sendall(request)
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
        pending[s] = b""
    while pending:
        events = selector.select(timeout=60)
        if not events:
            sys.exit(f"no answer on {len(pending)} connections within 60 s")
        for key, _ in events:
            s = key.fileobj
            data = s.recv(65536)
            if not data:
                sys.exit(f"the server closed a connection after {len(sockets)} were open: {pending[s][:200]!r}")
            pending[s] += data
            if answer_complete(pending[s]):
                status = pending[s].split(b" ", 2)[1]
                if status != b"200" or b"connection: close" in pending[s].lower():
                    sys.exit(f"connection {len(sockets) + 1}: {pending[s][:200]!r}")
                selector.unregister(s)
                sockets.append(s)
                del pending[s]


while len(sockets) < count:
    open_batch(min(batch, count - len(sockets)))
print(f"ready {len(sockets)}", flush=True)
sys.stdin.readline()
for s in sockets:
    s.close()
