#!/usr/bin/env python3
"""A stand-in upstream web server for tests and the demo, on 127.0.0.1 only.

Serves a directory tree with GET and HEAD, single byte ranges (206/416),
ETag / Last-Modified and conditional requests (304), and can misbehave on
request: answer 500 a few times, drop the connection part-way through a
body, or serve altered bytes. Every request is recorded. It stops by itself
after `idle_timeout` seconds without requests.

In a test:
    server = UpstreamServer(root); server.start(); ... server.stop()
    server.fail_times["/pool/x.deb"] = 2      # two 500s, then the file
    server.drop_after["/pool/x.deb"] = 4096   # close after 4096 body bytes, once
    server.replace["/dists/bookworm/InRelease"] = b"..."  # serve these bytes instead
    server.hide.add("/dists/bookworm/main/binary-amd64/Packages")  # answer 404
    server.drip["/pool/x.deb"] = (2, 0.5)     # 2 body bytes every 0.5 s, every time
    server.stream["/repodata/huge.xml"] = (size, chunks)  # generated: chunks(start) yields
                                              # the body from offset start, never held whole
Standalone:
    upstream_server.py --root DIR [--port N] [--idle-timeout S]
"""
import argparse
import email.utils
import hashlib
import http.server
import os
import socket
import threading
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_HEAD(self):
        self.serve(head=True)

    def do_GET(self):
        self.serve(head=False)

    def send_status(self, code, body=b"", extra=None):
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def serve(self, head):
        srv = self.server.owner
        srv.touch()
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        entry = {"method": self.command, "path": path, "range": self.headers.get("Range"),
                 "if_none_match": self.headers.get("If-None-Match")}
        with srv.lock:
            srv.requests.append(entry)
            fails = srv.fail_times.get(path, 0)
            if fails:
                srv.fail_times[path] = fails - 1
        if fails:
            entry["status"] = 500
            return self.send_status(500, b"try again\n")
        stream = srv.stream.get(path)
        if stream is not None and path not in srv.hide:
            return self.serve_stream(entry, *stream)
        body = srv.replace.get(path)
        if path in srv.hide:
            entry["status"] = 404
            return self.send_status(404, b"not found\n")
        if body is None:
            full = os.path.realpath(os.path.join(srv.root, path.lstrip("/")))
            if not full.startswith(srv.root + os.sep) or not os.path.isfile(full):
                entry["status"] = 404
                return self.send_status(404, b"not found\n")
            with open(full, "rb") as f:
                body = f.read()
            mtime = os.path.getmtime(full)
        else:
            mtime = srv.started
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        headers = {"ETag": etag, "Last-Modified": last_modified, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if (inm and inm == etag) or (not inm and ims and ims == last_modified):
            entry["status"] = 304
            return self.send_status(304, b"", {"ETag": etag, "Last-Modified": last_modified})
        start, end = 0, len(body)
        status = 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            try:
                start = int(first)
                end = int(last) + 1 if last else len(body)
            except ValueError:
                start, end = 0, len(body)
            if start >= len(body):
                entry["status"] = 416
                return self.send_status(416, b"", {"Content-Range": f"bytes */{len(body)}"})
            end = min(end, len(body))
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(body)}"
        entry["status"] = status
        part = body[start:end]
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if head:
            return
        with srv.lock:
            cut = srv.drop_after.pop(path, None)
        if cut is not None and cut < len(part):
            self.wfile.write(part[:cut])
            self.wfile.flush()
            entry["dropped_at"] = cut
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        drip = srv.drip.get(path)
        if drip is not None:
            return self.drip_body(part, *drip)
        self.wfile.write(part)

    def serve_stream(self, entry, size, chunks):
        """Serves a generated body of size bytes (an open-ended Range from its start offset
        too) until the client stops reading."""
        headers = {"ETag": f'"stream-{size}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng[6:].endswith("-") and rng[6:-1].isdigit():
            start, status = int(rng[6:-1]), 206
            if start >= size:
                entry["status"] = 416
                return self.send_status(416, b"", {"Content-Range": f"bytes */{size}"})
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        entry["status"] = status
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        if self.command == "HEAD":
            return
        sent = 0
        try:
            for chunk in chunks(start):
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        entry["sent"] = sent

    def drip_body(self, part, size, interval):
        """Sends part a few bytes at a time on a timer, until the client gives up."""
        try:
            for i in range(0, len(part), size):
                self.wfile.write(part[i:i + size])
                self.wfile.flush()
                time.sleep(interval)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


class UpstreamServer:
    def __init__(self, root, port=0, idle_timeout=600):
        self.root = os.path.realpath(root)
        self.requests = []
        self.fail_times = {}
        self.drop_after = {}
        self.replace = {}
        self.hide = set()
        self.drip = {}
        self.stream = {}
        self.lock = threading.Lock()
        self.started = time.time()
        self.idle_timeout = idle_timeout
        self.last = time.time()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = None

    def touch(self):
        self.last = time.time()

    def set_root(self, root):
        self.root = os.path.realpath(root)

    def start(self):
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self):
        self.httpd.timeout = 0.5
        while time.time() - self.last < self.idle_timeout and not getattr(self, "_stop", False):
            self.httpd.handle_request()
        self.httpd.server_close()

    def stop(self):
        self._stop = True
        if self.thread:
            self.thread.join(timeout=5)

    def clear_log(self):
        with self.lock:
            self.requests.clear()

    def gets(self, prefix=""):
        with self.lock:
            return [r for r in self.requests if r["method"] == "GET" and r["path"].startswith(prefix)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--idle-timeout", type=int, default=600)
    args = ap.parse_args()
    server = UpstreamServer(args.root, args.port, args.idle_timeout)
    print(server.port, flush=True)
    server._loop()


if __name__ == "__main__":
    main()
