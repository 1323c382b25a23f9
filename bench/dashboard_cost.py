#!/usr/bin/env python3
"""What the operator dashboard costs the daemon (docs/DASHBOARD.md, issue 13).

Starts `vasgd serve --demo` (the shipped config, its own data directory and port), waits for the
first model, then measures the daemon in three phases of --seconds each, back to back in the same
run:
  idle      nobody looks at it (the peer: what the daemon costs by itself),
  models    a headless Chromium (WebDriver) holds the dashboard open, signed in, on Models,
  serving   the same browser on Serving (charts: history polling as well).
For each phase: the daemon's CPU time (all its threads, from /proc/<pid>/task/*/schedstat) per
second of wall time, and the HTTP requests it answered per second by route (from /metrics, less this
script's own scrapes). Also the page's weight on first load (fresh browser profile): bytes over
the wire and decoded, from the browser's resource timing.

Needs: the built `vasgd`, chromium and chromedriver (scripts/install-deps.sh), python3.
Usage: bench/dashboard_cost.py [--vasgd build/daemon/vasgd] [--seconds 60]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "dashboard-cost-bench-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def cpu_seconds(pid):
    """CPU time of the process's threads, in seconds, to the nanosecond (/proc/<pid>/task/*/schedstat:
    /proc/<pid>/stat counts in 10 ms ticks, too coarse for an idle daemon)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended meanwhile
    return total / 1e9


def requests_by_route(base):
    _, text = http("GET", base + "/metrics")
    counts = {}
    for line in text.splitlines():
        if line.startswith("vasgd_http_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            route = labels.split('route="', 1)[1].split('"', 1)[0]
            counts[route] = counts.get(route, 0) + float(value)
    return counts


class Browser:
    def __init__(self, chromedriver, chromium):
        self.port = free_port()
        self.proc = subprocess.Popen([chromedriver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                if json.loads(http("GET", self.base + "/status", timeout=2)[1])["value"]["ready"]:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        caps = {"browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium,
                                       "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                                "--disable-dev-shm-usage", "--no-first-run",
                                                "--disable-background-networking", "--window-size=1280,800"]}}
        status, body = http("POST", self.base + "/session", {"capabilities": {"alwaysMatch": caps}})
        if status != 200:
            raise RuntimeError("chromedriver: " + body[:300])
        self.session = json.loads(body)["value"]["sessionId"]

    def cmd(self, method, path, body=None):
        status, text = http(method, f"{self.base}/session/{self.session}{path}", body if body is not None else
                            ({} if method == "POST" else None))
        if status != 200:
            raise RuntimeError(f"WebDriver {path}: {status} {text[:300]}")
        return json.loads(text)["value"]

    def script(self, source):
        return self.cmd("POST", "/execute/sync", {"script": source, "args": []})

    def element(self, css):
        value = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(value.values()))

    def close(self):
        try:
            http("DELETE", f"{self.base}/session/{self.session}", timeout=20)
        finally:
            self.proc.terminate()
            self.proc.wait()


def measure(pid, base, seconds):
    before_cpu, before_req, t0 = cpu_seconds(pid), requests_by_route(base), time.monotonic()
    time.sleep(seconds)
    after_cpu, after_req, t1 = cpu_seconds(pid), requests_by_route(base), time.monotonic()
    wall = t1 - t0
    rates = {}
    for route in set(before_req) | set(after_req):
        n = after_req.get(route, 0) - before_req.get(route, 0)
        if route == "metrics":
            n -= 1  # this script's first scrape is counted in `after`
        if n > 0:
            rates[route] = n / wall
    return {"wall_s": wall, "cpu_ms_per_s": 1000 * (after_cpu - before_cpu) / wall, "requests_per_s": rates}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vasgd", default=os.path.join(ROOT, "build/daemon/vasgd"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="vasgd-dashboard-cost-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, VASGD_ADMIN_TOKEN=TOKEN)
    log = open(os.path.join(work, "serve.log"), "w")
    serve = subprocess.Popen([args.vasgd, "serve", "--config", os.path.join(ROOT, "config/vasgd.toml"), "--demo",
                              "--data-dir", os.path.join(work, "data"), "--listen", f"127.0.0.1:{port}"],
                             stdout=subprocess.DEVNULL, stderr=log, env=env)
    browser = None
    try:
        deadline = time.monotonic() + 900
        while True:
            try:
                if http("GET", base + "/readyz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if serve.poll() is not None or time.monotonic() > deadline:
                sys.exit("vasgd serve --demo did not become ready; log: " + os.path.join(work, "serve.log"))
            time.sleep(0.5)
        time.sleep(5)  # let the start settle (index load, first samples)
        results = {"idle": measure(serve.pid, base, args.seconds)}

        browser = Browser(args.chromedriver, args.chromium)
        browser.cmd("POST", "/url", {"url": base + "/"})
        weight = browser.script("""
            const nav = performance.getEntriesByType('navigation')[0];
            const all = [nav, ...performance.getEntriesByType('resource')];
            return {requests: all.length, transfer: all.reduce((a, e) => a + e.transferSize, 0),
                    decoded: all.reduce((a, e) => a + e.decodedBodySize, 0)};""")
        browser.cmd("POST", f"/element/{browser.element('#token')}/value", {"text": TOKEN + "\ue007"})
        for _ in range(100):
            if browser.script("return document.getElementById('login').hidden;"):
                break
            time.sleep(0.1)
        time.sleep(3)
        results["models"] = measure(serve.pid, base, args.seconds)
        browser.cmd("POST", f"/element/{browser.element('#tab-serving')}/click")
        time.sleep(3)
        results["serving"] = measure(serve.pid, base, args.seconds)
    finally:
        if browser:
            browser.close()
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
        shutil.rmtree(work, ignore_errors=True)

    print(f"page weight on first load: {weight['requests']} requests, {weight['transfer']} bytes over the wire "
          f"({weight['decoded']} bytes decoded)")
    print(f"{'phase':8} {'daemon CPU ms/s':>16} {'x idle':>7} {'+ over idle':>12} {'requests/s':>11}  by route")
    idle_cpu = results["idle"]["cpu_ms_per_s"]
    for phase, r in results.items():
        total = sum(r["requests_per_s"].values())
        routes = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["requests_per_s"].items()))
        ratio = r["cpu_ms_per_s"] / idle_cpu if idle_cpu > 0 else float("nan")
        print(f"{phase:8} {r['cpu_ms_per_s']:16.3f} {ratio:7.2f} {r['cpu_ms_per_s'] - idle_cpu:12.3f} {total:11.2f}  {routes}")
    print("(CPU ms per second of wall time = thousandths of one core)")
    print(json.dumps({"page_weight": weight, "phases": results, "seconds": args.seconds}))


if __name__ == "__main__":
    main()
