#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive the dashboard in headless Chromium (test_dashboard.sh).

dashboard.py URL TOKEN OUTDIR live|failed: opens URL (the admin address's
"/") and types the token into the page's form. live: waits for a rollout
card whose charts have data, takes screenshots at desktop (1280x900) and
phone (390x844) size into OUTDIR, clicks Pause and then the confirmation's
Confirm, and waits for the card to show the rollout paused. failed: waits
for a rolled-back rollout whose open analysis marks its failing rows and
names the failing segments, and takes screenshots. Prints one JSON object
with what it saw; exits 1 with a message on the first thing that is not as
expected.

Chromium is driven through its DevTools protocol over --remote-debugging-pipe
(it reads commands on fd 3 and writes answers on fd 4, NUL-delimited JSON),
so nothing beyond python3 and Debian's chromium is needed. Every request
the page makes is recorded: one to another origin fails the test.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


ON_FAIL = []


def fail(msg):
    print("dashboard.py: " + msg, file=sys.stderr)
    hooks = list(ON_FAIL)
    ON_FAIL.clear()  # a hook that fails does not run the hooks again
    for hook in hooks:
        hook()
    sys.exit(1)


class Browser:
    def __init__(self, profile, log):
        to_chrome = os.pipe()
        from_chrome = os.pipe()
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            fail("chromium is not installed (scripts/deps.sh --test installs it)")

        def fds():
            os.dup2(to_chrome[0], 3)
            os.dup2(from_chrome[1], 4)

        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-sync",
             "--disable-background-networking", "--disable-component-update",
             "--remote-debugging-pipe", "--user-data-dir=" + profile,
             "--window-size=1280,900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_chrome[0])
        os.close(from_chrome[1])
        self.w = to_chrome[1]
        self.r = from_chrome[0]
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.send("Browser.close", session=False, wait=False)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)
        self.log.close()

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                fail("no answer from chromium")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                fail("chromium closed its pipe (see chromium.log next to the screenshots)")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, params=None, session=True, wait=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        if not wait:
            return None
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    fail(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def pump(self):
        """Read the events that have arrived (without waiting long)."""
        self.send("Runtime.evaluate", {"expression": "0"})

    def open(self, url):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        att = self.send("Target.attachToTarget",
                        {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = att["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(domain + ".enable")
        self.viewport(1280, 900, False)
        self.send("Page.navigate", {"url": url})

    def viewport(self, width, height, mobile):
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def eval(self, expr):
        r = self.send("Runtime.evaluate",
                      {"expression": expr, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in r:
            fail(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expr, what, timeout=30):
        deadline = time.time() + timeout
        guarded = f"(() => {{ try {{ return ({expr}); }} catch (e) {{ return null; }} }})()"
        while time.time() < deadline:
            v = self.eval(guarded)
            if v:
                return v
            time.sleep(0.25)
        fail(f"timed out waiting for {what}: {expr}")

    def click(self, selector):
        """A real mouse click at the middle of the element."""
        box = self.eval(f"""(() => {{
            const e = document.querySelector({json.dumps(selector)});
            if (!e) return null;
            e.scrollIntoView({{block: "center"}});
            const r = e.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2, !e.disabled];
        }})()""")
        if not box:
            fail(f"nothing to click at {selector}")
        if not box[2]:
            fail(f"{selector} is disabled")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {
                "type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def screenshot(self, path, full):
        params = {"format": "png"}
        if full:
            self.eval("window.scrollTo(0, 0)")
            m = self.send("Page.getLayoutMetrics")
            size = m.get("cssContentSize") or m["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"],
                              "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


# What the page shows of the first rollout card: its state, its charts'
# paths (with the number of points drawn) and the live indicator.
CARD = """(() => {
  const c = document.querySelector('.card[data-rollout-id]');
  if (!c) return null;
  const charts = {};
  for (const box of c.querySelectorAll('.chart-box')) {
    const paths = [...box.querySelectorAll('svg path')].map((p) => p.getAttribute('d') || '');
    charts[box.dataset.chart] = {
      paths: paths.filter((d) => d.length > 0).length,
      segments: paths.reduce((n, d) => n + (d.match(/[LHV]/g) || []).length, 0),
      rects: box.querySelectorAll('svg rect').length,
      markers: box.querySelectorAll('svg .marker').length,
    };
  }
  return {
    id: Number(c.dataset.rolloutId),
    state: c.dataset.state,
    charts,
    live: document.getElementById('live').textContent,
    banner: document.getElementById('banner').hidden ? null : document.getElementById('banner').textContent,
    result: (c.querySelector('.result') || {}).textContent || null,
    analyses: c.querySelectorAll('details.analysis').length,
    rows: c.querySelectorAll('details.analysis tr[data-metric]').length,
    reasons: c.querySelectorAll('.reasons li').length,
    blast: (c.querySelector('[data-fact="blast"]') || {}).textContent || null,
    fed: [...c.querySelectorAll('.chart-box.fed')].map((b) => b.dataset.fed),
    fed_points: c.querySelectorAll('.chart-box.fed svg circle').length,
    width: document.documentElement.scrollWidth,
  };
})()"""


def known_absent(entry):
    """A 503 (or, before feedback existed, 404) from GET /v1/feedback: a
    server that joins no feedback (the page asks once and shows none)."""
    return entry.get("source") == "network" and entry.get("url", "").endswith("/v1/feedback") \
        and ("503" in entry.get("text", "") or "404" in entry.get("text", ""))


def charts_ready(card, need):
    if not card:
        return False
    if card["banner"]:
        fail("the page says: " + card["banner"])
    ch = card["charts"]
    return (all(ch.get(k, {}).get("segments", 0) >= need for k in ("weight", "latency", "errors", "rate"))
            and ch.get("predictions", {}).get("rects", 0) > 0)


def login(b, token, outdir):
    """Type the token into the page's form; the form closes and the token
    is in sessionStorage."""
    b.wait_for("!document.getElementById('login').hidden", "the token form")
    b.screenshot(os.path.join(outdir, "login-desktop.png"), False)
    b.eval("document.getElementById('token').focus()")
    b.send("Input.insertText", {"text": token})
    b.click("#login-ok")
    b.wait_for("document.getElementById('login').hidden", "the form to close")
    b.wait_for(f"sessionStorage.getItem('canary.token') === {json.dumps(token)}",
               "the token in sessionStorage")


def live_rollout(b, outdir, seen):
    """The running rollout: charts with data, desktop and phone, Pause."""
    card = b.wait_for(f"(() => {{ const c = {CARD}; return c && c.live === 'live' && c; }})()",
                      "a rollout card and the live stream")
    # several seconds of samples: each line chart has points to join
    deadline = time.time() + 30
    while not charts_ready(card, 5) and time.time() < deadline:
        time.sleep(0.5)
        card = b.eval(CARD)
    if not charts_ready(card, 5):
        fail(f"charts without data: {json.dumps(card)}")
    seen["before"] = card
    b.screenshot(os.path.join(outdir, "desktop.png"), True)
    b.screenshot(os.path.join(outdir, "desktop-viewport.png"), False)

    b.viewport(390, 844, True)
    time.sleep(1.0)
    phone = b.eval(CARD)
    if phone["width"] > 390:
        fail(f"the page is {phone['width']} px wide on a 390 px screen")
    seen["phone"] = phone
    b.screenshot(os.path.join(outdir, "phone.png"), True)
    b.screenshot(os.path.join(outdir, "phone-viewport.png"), False)
    b.viewport(1280, 900, False)
    time.sleep(0.5)

    b.click('.card[data-rollout-id] button[data-action="pause"]')
    b.wait_for("document.getElementById('confirm').open", "the confirmation dialog")
    b.screenshot(os.path.join(outdir, "confirm.png"), False)
    b.eval("document.getElementById('confirm-reason').focus()")
    b.send("Input.insertText", {"text": "paused from the dashboard test"})
    b.click("#confirm-ok")
    after = b.wait_for(f"(() => {{ const c = {CARD}; return c && c.state === 'paused' && c.result && c; }})()",
                       "the card to show the rollout paused")
    seen["after"] = after
    b.click('.card[data-rollout-id] .trail summary')
    time.sleep(0.3)
    b.screenshot(os.path.join(outdir, "paused-desktop.png"), True)


# A rolled-back rollout's failing analysis: its failing rows, the segment
# rows among them, and the line that names the failing segments.
FAILED = """(() => {
  const c = document.querySelector('.card[data-rollout-id]');
  if (!c || c.dataset.state !== 'rolled-back') return null;
  const a = c.querySelector('details.analysis[open]');
  if (!a) return null;
  const failing = a.querySelector('.failing');
  return {
    state: c.dataset.state,
    verdict: a.querySelector('summary .badge').textContent,
    fail_rows: a.querySelectorAll('tr.fail').length,
    fail_segments: [...a.querySelectorAll('tr.fail.segment')].map((r) => r.dataset.segment),
    failing: failing ? failing.textContent : null,
    fail_marks: c.querySelectorAll('.chart-box[data-chart="weight"] .marker').length,
    controls: c.querySelectorAll('button[data-action]').length,
    blast: (c.querySelector('[data-fact="blast"]') || {}).textContent || null,
  };
})()"""


def failed_rollout(b, outdir, seen):
    """A rollout rolled back by a failing analysis: the failing segments
    are marked and named."""
    seen["failed"] = b.wait_for(FAILED, "a rolled-back rollout with its failing analysis")
    b.eval("document.querySelector('details.analysis[open]').scrollIntoView(); 0")
    b.screenshot(os.path.join(outdir, "failed-segment.png"), False)
    b.screenshot(os.path.join(outdir, "failed-desktop.png"), True)


# The parity check's card: its badges and the line that describes it.
PARITY = """(() => {
  const c = document.querySelector('.card[data-rollout-id]');
  if (!c) return null;
  const badge = c.querySelector('.badge[class*="parity-"]');
  if (!badge || badge.textContent === 'running') return null;
  return {
    id: Number(c.dataset.rolloutId),
    state: c.dataset.state,
    result: badge.textContent,
    promote: (c.querySelector('button[data-action="promote"]') || {}).disabled,
    started: (document.querySelector('section.model .result') || {}).textContent || null,
  };
})()"""


def parity_check(b, outdir, seen):
    """Start a parity check from the model's button, confirm it, and see
    it run and end with a result."""
    b.wait_for("""!!document.querySelector('section.model button[data-action="parity"]')""",
               "the model's Parity check button")
    b.click('section.model button[data-action="parity"]')
    b.wait_for("document.getElementById('confirm').open", "the confirmation dialog")
    b.click("#confirm-ok")
    b.wait_for("(() => { const r = document.querySelector('section.model .result');"
               " return r && /parity check started: rollout #1/.test(r.textContent); })()",
               "the page to say the parity check started")
    running = b.wait_for("""(() => { const c = document.querySelector('.card[data-rollout-id]');
      return c && c.querySelector('.badge.parity-running') &&
        { promote_disabled: c.querySelector('button[data-action="promote"]').disabled }; })()""",
                         "the running parity check's card")
    seen["running"] = running
    b.screenshot(os.path.join(outdir, "parity-running.png"), False)
    seen["parity"] = b.wait_for(PARITY, "the parity check's result", timeout=90)
    b.screenshot(os.path.join(outdir, "parity-desktop.png"), True)


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in ("live", "failed", "parity"):
        fail("usage: dashboard.py URL TOKEN OUTDIR live|failed|parity")
    url, token, outdir, mode = sys.argv[1:]
    origin = url.rstrip("/")
    os.makedirs(outdir, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="canary-chromium-")
    b = Browser(profile, os.path.join(outdir, f"chromium-{mode}.log"))
    seen = {}

    def post_mortem():
        """What the page showed and said when the test failed."""
        b.screenshot(os.path.join(outdir, f"failure-{mode}.png"), False)
        for e in b.events:
            if e.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown",
                                   "Log.entryAdded"):
                print("  page: " + json.dumps(e["params"])[:400], file=sys.stderr)

    ON_FAIL.append(post_mortem)
    try:
        b.open(url)
        login(b, token, outdir)
        if mode == "live":
            live_rollout(b, outdir, seen)
        elif mode == "parity":
            parity_check(b, outdir, seen)
        else:
            failed_rollout(b, outdir, seen)

        b.pump()
        requests = [e["params"]["request"]["url"] for e in b.events
                    if e.get("method") == "Network.requestWillBeSent"]
        foreign = [u for u in requests if not u.startswith(origin) and not u.startswith("data:")
                   and u != "about:blank"]
        if foreign:
            fail(f"the page asked another origin: {foreign[:5]}")
        if any("token=" in u or token in u for u in requests):
            fail("the token went into a URL")
        errors = [e["params"] for e in b.events if e.get("method") == "Runtime.exceptionThrown"]
        errors += [e["params"]["entry"] for e in b.events
                   if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
                   and not known_absent(e["params"]["entry"])]
        if errors:
            fail(f"errors in the page: {json.dumps(errors)[:800]}")
        seen["requests"] = len(requests)
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
