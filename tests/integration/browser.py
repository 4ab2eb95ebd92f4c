"""Opens a local, self-contained HTML file in headless Chromium over the Chrome
DevTools Protocol and reports what the page did: its console messages, the
network requests it attempted, its DOM and text, and a full-page screenshot.

Chromium runs with a fresh throwaway profile and cannot reach the network: every
host name fails to resolve and all traffic goes to a dead proxy, so a request
the page attempts fails but is still recorded in Page.requests.

Needs Debian's chromium and python3-websocket packages."""
import base64
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import weakref

import websocket

LOAD_TIMEOUT = 30  # seconds to wait for the start-up and the load event
QUIET = 0.5        # after load, the page is done once this long passes without events
DRAIN_LIMIT = 5    # ... or once this long has passed in all
WIDTH, HEIGHT = 1280, 800


def _stop(proc, ws, root):
    """Closes the connection, kills Chromium's whole process group, removes its profile."""
    try:
        if ws is not None:
            ws.close()
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(root, ignore_errors=True)


class Page:
    """One HTML file loaded in a headless Chromium, which stays up for query()
    until close() (also called on leaving a with block, on garbage collection
    and at exit)."""

    def __init__(self, html_path, screenshot_path):
        html = pathlib.Path(html_path).resolve()
        if not html.is_file():
            raise FileNotFoundError(html)
        self.url = html.as_uri()
        self.console, self.errors, self.requests = [], [], []
        self._id, self._ws = 0, None
        self._root = tempfile.mkdtemp(prefix="browser-")
        profile = os.path.join(self._root, "profile")
        with open(os.path.join(self._root, "chromium.log"), "wb") as log:
            self._proc = subprocess.Popen(
                [shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                 "--remote-debugging-port=0", "--user-data-dir=" + profile, "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                 "--proxy-bypass-list=<-loopback>", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        self._finalizer = weakref.finalize(self, _stop, self._proc, None, self._root)
        try:
            self._open(profile)
            self._finalizer.detach()
            self._finalizer = weakref.finalize(self, _stop, self._proc, self._ws, self._root)
            self._load(pathlib.Path(screenshot_path))
        except BaseException:
            self.close()
            raise

    def _open(self, profile):
        """Waits for Chromium's DevTools port and connects to its page target."""
        port_file = pathlib.Path(profile, "DevToolsActivePort")
        deadline = time.monotonic() + LOAD_TIMEOUT
        while not (port_file.exists() and "\n" in port_file.read_text()):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(self._root, "chromium.log"), errors="replace") as f:
                    raise RuntimeError("chromium did not start its DevTools server:\n" + f.read()[-2000:])
            time.sleep(0.05)
        base = "http://127.0.0.1:%s/json" % port_file.read_text().split()[0]
        with urllib.request.urlopen(base + "/list", timeout=LOAD_TIMEOUT) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        if not pages:
            req = urllib.request.Request(base + "/new?about:blank", method="PUT")
            with urllib.request.urlopen(req, timeout=LOAD_TIMEOUT) as r:
                pages = [json.load(r)]
        self._ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=LOAD_TIMEOUT,
                                               suppress_origin=True)

    def _load(self, screenshot_path):
        """Navigates to the file, waits for load and quiet, screenshots it and reads its DOM."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                  deviceScaleFactor=1, mobile=False)
        nav = self.call("Page.navigate", url=self.url)
        if nav.get("errorText"):
            raise RuntimeError("could not open %s: %s" % (self.url, nav["errorText"]))
        deadline = time.monotonic() + LOAD_TIMEOUT
        while self._event(deadline - time.monotonic()) != "Page.loadEventFired":
            if time.monotonic() > deadline:
                raise TimeoutError("%s did not fire its load event within %ss" % (self.url, LOAD_TIMEOUT))
        deadline = time.monotonic() + DRAIN_LIMIT
        while time.monotonic() < deadline and self._event(min(QUIET, deadline - time.monotonic())):
            pass
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": max(WIDTH, size["width"]),
                               "height": max(HEIGHT, size["height"]), "scale": 1})
        screenshot_path.write_bytes(base64.b64decode(shot["data"]))
        self.dom = self.evaluate("document.documentElement.outerHTML")
        self.text = self.evaluate("document.body ? document.body.innerText : ''")

    def _event(self, timeout):
        """Receives and records one message; returns its event name, or None on timeout."""
        self._ws.settimeout(max(timeout, 0.001))
        try:
            msg = json.loads(self._ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        self._record(msg)
        return msg.get("method") or msg

    def _record(self, msg):
        """Files an event under console, errors or requests."""
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            args = [a.get("value", a.get("description", a.get("type"))) for a in p.get("args", [])]
            self._log(p["type"], " ".join(map(str, args)))
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self._log("exception", d.get("exception", {}).get("description") or d.get("text", ""))
        elif method == "Log.entryAdded":
            e = p["entry"]
            self._log(e["level"], e["text"] + (" (%s)" % e["url"] if e.get("url") else ""))
        elif method == "Network.requestWillBeSent" and p["request"]["url"] != self.url:
            self.requests.append(p["request"]["url"])

    def _log(self, level, text):
        line = "%s: %s" % (level, text)
        self.console.append(line)
        if level in ("error", "assert", "exception") or "Content Security Policy" in text:
            self.errors.append(line)

    def call(self, method, **params):
        """Sends one DevTools command and returns its result, recording events meanwhile."""
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        deadline = time.monotonic() + LOAD_TIMEOUT
        while True:
            msg = self._event(deadline - time.monotonic())
            if isinstance(msg, dict) and msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError("%s failed: %s" % (method, msg["error"]))
                return msg["result"]
            if time.monotonic() > deadline:
                raise TimeoutError("no answer to %s within %ss" % (method, LOAD_TIMEOUT))

    def evaluate(self, expression):
        """Evaluates a JavaScript expression in the page and returns its JSON value."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError("%s threw %s" % (expression, d.get("exception", {}).get("description", d.get("text"))))
        return r["result"].get("value")

    def query(self, selector):
        """The outerHTML of each element document.querySelectorAll(selector) finds."""
        return self.evaluate("Array.from(document.querySelectorAll(%s), e => e.outerHTML)"
                             % json.dumps(selector))

    def close(self):
        """Stops Chromium and removes its profile; safe to call more than once."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_page(html_path, screenshot_path):
    """Loads html_path (a local file) in headless Chromium, writes a full-page PNG
    to screenshot_path and returns the Page."""
    return Page(html_path, screenshot_path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: browser.py FILE.html OUT.png")
    with open_page(sys.argv[1], sys.argv[2]) as page:
        print("console: %d\nerrors: %d\nrequests: %d" % (len(page.console), len(page.errors), len(page.requests)))
        for line in page.console + ["request: " + u for u in page.requests]:
            print("  " + line)
        print("text: " + page.text[:200])
