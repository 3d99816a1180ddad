"""A TLS client for the TLS tests (Python's ssl module, i.e. OpenSSL as a client).

Connects to 127.0.0.1:PORT, sends one line, reads the reply, and prints one JSON object per
connection: what the client saw (version, cipher, ALPN, resumption, reply) or the error.
"""
import argparse
import json
import socket
import ssl
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--ca", required=True, help="trust anchors for the server certificate")
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--min", default="TLSv1_2")
parser.add_argument("--max", default="TLSv1_3")
parser.add_argument("--ciphers")
parser.add_argument("--alpn", default="http/1.1", help="comma-separated, empty for none")
parser.add_argument("--connections", type=int, default=1, help="reconnect this often, resuming the session")
parser.add_argument("--byte-by-byte", action="store_true", help="send the ClientHello one byte at a time")
parser.add_argument("--line", default="hello")
args = parser.parse_args()

context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.load_verify_locations(args.ca)
context.minimum_version = getattr(ssl.TLSVersion, args.min)
context.maximum_version = getattr(ssl.TLSVersion, args.max)
if args.ciphers:
    context.set_ciphers(args.ciphers)
if args.alpn:
    context.set_alpn_protocols(args.alpn.split(","))
if args.cert:
    context.load_cert_chain(args.cert, args.key)

session = None
for _ in range(args.connections):
    result = {}
    try:
        raw = socket.create_connection(("127.0.0.1", args.port), timeout=20)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.byte_by_byte:
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost", session=session)
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            hello = outgoing.read()
            for byte in hello:
                raw.sendall(bytes([byte]))
                time.sleep(0.002)
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    raw.sendall(outgoing.read())
                    data = raw.recv(65536)
                    if not data:
                        raise ConnectionError("closed during the handshake")
                    incoming.write(data)
            raw.sendall(outgoing.read())
            tls.write((args.line + "\n").encode())
            raw.sendall(outgoing.read())
            reply = b""
            while not reply.endswith(b"\n"):
                try:
                    reply += tls.read(65536)
                except ssl.SSLWantReadError:
                    data = raw.recv(65536)
                    if not data:
                        break
                    incoming.write(data)
            result.update(version=tls.version(), cipher=tls.cipher()[0], alpn=tls.selected_alpn_protocol(),
                          resumed=tls.session_reused, reply=reply.decode().strip())
            session = tls.session
            raw.close()
        else:
            tls = context.wrap_socket(raw, server_hostname="localhost", session=session)
            tls.sendall((args.line + "\n").encode())
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = tls.recv(65536)
                if not chunk:
                    break
                reply += chunk
            result.update(version=tls.version(), cipher=tls.cipher()[0], alpn=tls.selected_alpn_protocol(),
                          resumed=tls.session_reused, reply=reply.decode().strip(),
                          server_cn=dict(part[0] for part in tls.getpeercert()["subject"]).get("commonName"))
            # The session (with its TLS 1.3 ticket) is complete once application data was read.
            session = tls.session
            try:
                tls.unwrap()
                result["close_notify"] = True
            except (ssl.SSLError, OSError):
                result["close_notify"] = False
            tls.close()
    except (ssl.SSLError, OSError, ConnectionError) as error:
        result["error"] = f"{type(error).__name__}: {error}"
    print(json.dumps(result), flush=True)
