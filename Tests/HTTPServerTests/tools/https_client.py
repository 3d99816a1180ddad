"""An HTTP/1.1-over-TLS client for the server's TLS tests (Python's ssl module, i.e. OpenSSL).

Sends the raw requests given (JSON list) on one TLS connection, either one after another or all at
once (pipelined), reads one response per request (Content-Length framing), then reports whether the
server ended with close_notify. Prints one JSON object.
"""
import argparse
import json
import socket
import ssl
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--ca", required=True)
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--requests", required=True, help="JSON list of raw requests")
parser.add_argument("--pipelined", action="store_true")
parser.add_argument("--byte-by-byte", action="store_true", help="send the ClientHello one byte per segment")
parser.add_argument("--min", default="TLSv1_2")
parser.add_argument("--max", default="TLSv1_3")
parser.add_argument("--ciphers")
parser.add_argument("--close-notify", action="store_true",
                    help="send close_notify right after the requests, keep the TCP connection open, and time the server's close")
args = parser.parse_args()

context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.load_verify_locations(args.ca)
context.set_alpn_protocols(["http/1.1"])
context.minimum_version = getattr(ssl.TLSVersion, args.min)
context.maximum_version = getattr(ssl.TLSVersion, args.max)
if args.ciphers:
    context.set_ciphers(args.ciphers)
if args.cert:
    context.load_cert_chain(args.cert, args.key)
requests = json.loads(args.requests)
result = {"responses": []}


class Connection:
    """TLS over a socket through memory BIOs, so the handshake bytes can be paced."""

    def __init__(self):
        self.raw = socket.create_connection(("127.0.0.1", args.port), timeout=20)
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.peer_closed = False
        self.close_notify = False

    def pump_out(self, paced=False):
        data = self.outgoing.read()
        if paced:
            for byte in data:
                self.raw.sendall(bytes([byte]))
                time.sleep(0.002)
        elif data:
            self.raw.sendall(data)

    def pump_in(self):
        data = self.raw.recv(65536)
        if not data:
            self.peer_closed = True
            self.incoming.write_eof()
        else:
            self.incoming.write(data)

    def handshake(self):
        first = True
        while True:
            try:
                self.tls.do_handshake()
                self.pump_out()
                return
            except ssl.SSLWantReadError:
                self.pump_out(paced=first and args.byte_by_byte)
                first = False
                self.pump_in()
                if self.peer_closed:
                    raise ConnectionError("closed during the handshake")

    def send(self, data):
        self.tls.write(data)
        self.pump_out()

    def read_some(self):
        while True:
            try:
                data = self.tls.read(65536)
                # An SSLObject reads b"" once the peer's close_notify arrived; a bare EOF raises SSLEOFError.
                if not data:
                    self.close_notify = True
                return data
            except ssl.SSLWantReadError:
                if self.peer_closed:
                    return b""
                self.pump_in()
            except ssl.SSLZeroReturnError:
                self.close_notify = True
                return b""



def read_response(connection, buffer):
    while b"\r\n\r\n" not in buffer:
        chunk = connection.read_some()
        if not chunk:
            return None, buffer
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    rest = bytearray(rest)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = connection.read_some()
        if not chunk:
            return None, rest
        rest += chunk
    response = {"status": int(lines[0].split(" ")[1]), "headers": headers, "body": bytes(rest[:length]).decode("utf-8", "replace")}
    return response, bytearray(rest[length:])


try:
    connection = Connection()
    connection.handshake()
    result["version"] = connection.tls.version()
    result["alpn"] = connection.tls.selected_alpn_protocol()
    buffer = bytearray()
    if args.close_notify:
        connection.tls.write("".join(requests).encode())
        try:
            connection.tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        connection.pump_out()
        started = time.time()
        for _ in requests:
            response, buffer = read_response(connection, buffer)
            if response is None:
                break
            result["responses"].append(response)
        while connection.read_some():
            pass
        result["closed_after"] = time.time() - started
    elif args.pipelined:
        connection.send("".join(requests).encode())
        for _ in requests:
            response, buffer = read_response(connection, buffer)
            if response is None:
                break
            result["responses"].append(response)
    else:
        for request in requests:
            connection.send(request.encode())
            response, buffer = read_response(connection, buffer)
            if response is None:
                break
            result["responses"].append(response)
    # Wait for the server's end: close_notify (or a bare close).
    if result["responses"] and result["responses"][-1]["headers"].get("connection") == "close":
        while connection.read_some():
            pass
    result["close_notify"] = connection.close_notify
except (ssl.SSLError, OSError, ConnectionError) as error:
    result["error"] = f"{type(error).__name__}: {error}"
print(json.dumps(result), flush=True)
