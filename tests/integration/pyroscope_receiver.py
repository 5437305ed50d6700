#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for Grafana Pyroscope's push endpoint, for the agent tests.

Listens on 127.0.0.1:PORT (0: any; the port is printed as "listening PORT"),
accepts POST /push.v1.PusherService/Push, decodes the push.v1.PushRequest
with a small hand-written protobuf reader (no generated code), checks the
contract profd must keep, and records each request as one JSON line in
DIR/requests.jsonl: the path, content type, labels, sample ID, the SHA-256
of the raw profile, and the contract violations found ("errors", empty when
the request is right). Each raw profile is saved as DIR/<sha256>.pb.gz.
Answers 200 with an empty PushResponse, or --status N to every request.
"""
import argparse
import gzip
import hashlib
import http.server
import json
import os
import re
import sys

PUSH_PATH = "/push.v1.PusherService/Push"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class DecodeError(Exception):
    pass


def varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def fields(buf):
    """Yield (field number, wire type, value) of one message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("field number 0")
        if wt == 0:
            val, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            if i + n > len(buf):
                raise DecodeError("truncated length-delimited field")
            val, i = bytes(buf[i:i + n]), i + n
        elif wt == 1:
            val, i = bytes(buf[i:i + 8]), i + 8
        elif wt == 5:
            val, i = bytes(buf[i:i + 4]), i + 4
        else:
            raise DecodeError(f"wire type {wt}")
        if i > len(buf):
            raise DecodeError("truncated fixed field")
        yield num, wt, val


def decode_push(body):
    """PushRequest → [{"labels": [(name, value)], "samples": [(raw, id)]}]."""
    series = []
    for num, wt, val in fields(body):
        if num != 1 or wt != 2:
            raise DecodeError(f"PushRequest: unexpected field {num}/{wt}")
        s = {"labels": [], "samples": []}
        for n2, w2, v2 in fields(val):
            if n2 == 1 and w2 == 2:
                name = value = ""
                for n3, w3, v3 in fields(v2):
                    if w3 != 2:
                        raise DecodeError("LabelPair: not a string")
                    if n3 == 1:
                        name = v3.decode("utf-8")
                    elif n3 == 2:
                        value = v3.decode("utf-8")
                s["labels"].append((name, value))
            elif n2 == 2 and w2 == 2:
                raw, sid = b"", ""
                for n3, w3, v3 in fields(v2):
                    if n3 == 1 and w3 == 2:
                        raw = v3
                    elif n3 == 2 and w3 == 2:
                        sid = v3.decode("utf-8")
                s["samples"].append((raw, sid))
            else:
                raise DecodeError(f"RawProfileSeries: unexpected field {n2}/{w2}")
        series.append(s)
    return series


def profile_sample_types(raw):
    """The (type, unit) strings of a gzipped profile.proto's sample_type."""
    data = gzip.decompress(raw)
    strings, types = [], []
    for num, wt, val in fields(data):
        if num == 6 and wt == 2:
            strings.append(val.decode("utf-8"))
        elif num == 1 and wt == 2:
            t = dict((n, v) for n, w, v in fields(val) if w == 0)
            types.append((t.get(1, 0), t.get(2, 0)))
    return [(strings[t], strings[u]) for t, u in types], len(data)


def check(handler, body):
    """The contract of a push request; returns (record, errors)."""
    errors = []
    rec = {"path": handler.path, "method": handler.command,
           "content_type": handler.headers.get("Content-Type", ""),
           "connect_version": handler.headers.get("Connect-Protocol-Version", "")}
    if handler.path != PUSH_PATH:
        errors.append(f"path {handler.path}")
    if rec["content_type"] != "application/proto":
        errors.append(f"content type {rec['content_type']}")
    if rec["connect_version"] != "1":
        errors.append("no Connect-Protocol-Version: 1")
    try:
        series = decode_push(body)
    except (DecodeError, UnicodeDecodeError) as e:
        errors.append(f"undecodable PushRequest: {e}")
        return rec, errors, None
    if len(series) != 1 or len(series[0]["samples"]) != 1:
        errors.append(f"{len(series)} series / samples: want exactly one of each")
        return rec, errors, None
    labels = series[0]["labels"]
    names = [n for n, _ in labels]
    rec["labels"] = dict(labels)
    if names != sorted(names):
        errors.append("labels not sorted by name")
    if len(set(names)) != len(names):
        errors.append("duplicate label names")
    for n, v in labels:
        if not LABEL_NAME_RE.match(n) and n != "__name__":
            errors.append(f"invalid label name {n!r}")
        if not v:
            errors.append(f"empty label value for {n}")
    for need in ("service_name", "__name__", "host", "pid", "process_name"):
        if need not in rec["labels"]:
            errors.append(f"label {need} missing")
    raw, sid = series[0]["samples"][0]
    rec["id"] = sid
    if not UUID_RE.match(sid):
        errors.append(f"sample ID {sid!r} is not a random UUID")
    try:
        rec["sample_types"], rec["profile_bytes"] = profile_sample_types(raw)
    except Exception as e:  # noqa: BLE001 - anything wrong with the profile is a finding
        errors.append(f"raw_profile is not a gzipped profile: {e}")
    return rec, errors, raw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--status", type=int, default=200)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    log = open(os.path.join(args.dir, "requests.jsonl"), "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def reply(self, status, ctype, body):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply(405, "text/plain", b"POST only\n")

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            if args.status != 200:
                self.reply(args.status, "text/plain", b"unavailable\n")
                return
            rec, errors, raw = check(self, body)
            if raw is not None:
                rec["sha256"] = hashlib.sha256(raw).hexdigest()
                with open(os.path.join(args.dir, rec["sha256"] + ".pb.gz"), "wb") as f:
                    f.write(raw)
            rec["errors"] = errors
            log.write(json.dumps(rec) + "\n")
            # An empty PushResponse.
            self.reply(200, "application/proto", b"")

    srv = http.server.HTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening {srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
