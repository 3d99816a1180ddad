"""Sends exactly N requests, one after another on one keep-alive connection, and checks each answer.

    python3 requests.py URL N [--post BODY] [--header 'Name: value' ...] [--expect TEXT]

Used by scripts/bench-instructions.sh, which counts the server's instructions for these N requests;
the client's own work is not counted, so a simple client is enough. Exits non-zero on the first
answer that is not 200 (or lacks TEXT), or when the server closes the connection.
"""
import argparse
import http.client
import sys
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("count", type=int)
parser.add_argument("--post")
parser.add_argument("--header", action="append", default=[])
parser.add_argument("--expect")
args = parser.parse_args()

url = urllib.parse.urlsplit(args.url)
headers = dict(h.split(": ", 1) for h in args.header)
if args.post is not None:
    headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
for index in range(args.count):
    connection.request("POST" if args.post is not None else "GET", url.path, body=args.post, headers=headers)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200 or (args.expect and args.expect.encode() not in body):
        sys.exit(f"request {index + 1} of {args.count} to {args.url}: {response.status} {body[:300]!r}")
    if response.will_close:
        sys.exit(f"request {index + 1} of {args.count} to {args.url}: the server closed the connection")
connection.close()
