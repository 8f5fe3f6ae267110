#!/usr/bin/python3
"""browser_pages.py - the tablet and ambassador pages in a real browser.

Debian's chromium, headless, driven through the DevTools protocol with
Debian's python3-websocket (no npm, no downloaded browser).

Live mode, against a running foyerd:
    browser_pages.py --base http://127.0.0.1:PORT --code TENANT_PAIRING_CODE \
        --ambassador-code AMBASSADOR_PAIRING_CODE --artefacts DIR
  1. pairs the tablet (GET /pair, types the code, submits: the server sets
     the foyer_token cookie and sends the browser to /tablet);
  2. reads the figures and tips of /tablet from the DOM (<data value> of
     each card) and compares them with /api/v1/me/summary?period=THE_PAGE'S
     (fetched by the page itself, with its cookie), in French (asked for as
     a French tablet does) and in English (the page's switch);
  3. answers the first tip "not possible here" and checks that it is gone;
  4. files a problem report (kind leak, a short text);
  4b. in "Mes choix": shares the figures with the adviser listed (its
     form, by touch), checks the grant is listed with a "withdraw" button,
     runs the accessibility check on the page so, withdraws it and checks
     it is gone; says no, then yes, to load curves and checks the state
     shown;
  5. pairs another device (no cookie of the tablet's) with the ambassador
     code, checks that the report is on /ambassador, closes it there and
     checks that it is gone;
  6. saves screenshots: tablet portrait (800x1280) and landscape
     (1280x800), ambassador on a phone (390x844) and landscape;
  7. runs an accessibility check in each page: <html lang> set, every form
     control labelled, every visible text at a contrast of at least 4.5:1
     (from computed styles, backgrounds blended up the ancestors), every
     visible control at least 48 x 48 px (touch).

Static mode, on pages written by the unit test (FOYER_PAGES_OUT=DIR
test_http_pages): serves DIR (plus web/foyer.css) with python3 -m
http.server on loopback and runs steps 2 (against DIR/summary.json), 6 and
7 on tablet.html, tablet-en.html and ambassador.html:
    browser_pages.py --static DIR --artefacts DIR2

Exit status 0 when every check passed; each failure is printed with the
page and what was wrong.
"""

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

import websocket

CHROMIUM = os.environ.get("FOYER_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_S = 20

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]

failures = []


def fail(page, what):
    failures.append(f"{page}: {what}")
    print(f"FAIL {page}: {what}", file=sys.stderr)


def ok(page, what):
    print(f"ok   {page}: {what}")


class Browser:
    """One chromium process and one page target, driven over DevTools."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="foyer-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM] + CHROMIUM_FLAGS + [f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Chromium writes the port it chose (and the browser's WebSocket
        # path) into DevToolsActivePort once it listens: poll for it.
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + TIMEOUT_S
        lines = []
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.proc.returncode}")
            try:
                with open(port_file) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].isdigit() and lines[1]:
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("chromium did not write DevToolsActivePort")
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{lines[0]}{lines[1]}", timeout=TIMEOUT_S, suppress_origin=True
        )
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)

    def call(self, method, params=None, session=False):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method):
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    del self.events[: i + 1]
                    return ev
            self.events.append(json.loads(self.ws.recv()))
        raise RuntimeError(f"no {method} within {TIMEOUT_S} s")

    def goto(self, url):
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_event("Page.loadEventFired")

    def js(self, expression, await_promise=False):
        r = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
            session=True,
        )
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression[:60]}...: {r['exceptionDetails']}")
        return r["result"].get("value")

    def submit(self, expression):
        """Run expression (a click or a submit) and wait for the next page."""
        self.events.clear()
        self.js(expression)
        self.wait_event("Page.loadEventFired")

    def french(self):
        """Ask for French first, as a tablet set up in France does (headless
        chromium's own Accept-Language is en-US)."""
        ua = self.call("Browser.getVersion")["userAgent"]
        self.call(
            "Emulation.setUserAgentOverride",
            {"userAgent": ua, "acceptLanguage": "fr-FR,fr"},
            session=True,
        )

    def forget(self):
        """Another device: no cookie (token, language) from the last one."""
        self.call("Network.clearBrowserCookies", session=True)

    def screenshot(self, path, width, height, mobile):
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
            session=True,
        )
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        self.call("Emulation.clearDeviceMetricsOverride", session=True)

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


# The accessibility check, run in the page: returns a list of problems.
A11Y_JS = r"""
(() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push('html has no lang');
  const visible = (el) => el.getClientRects().length > 0 &&
      getComputedStyle(el).visibility !== 'hidden';
  for (const el of document.querySelectorAll('input, select, textarea, button')) {
    if (el.type === 'hidden') continue;
    let name = (el.getAttribute('aria-label') || '').trim();
    if (!name && el.getAttribute('aria-labelledby'))
      name = el.getAttribute('aria-labelledby').split(/\s+/)
          .map((id) => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
    if (!name && el.labels && el.labels.length)
      name = Array.from(el.labels).map((l) => l.textContent).join(' ').trim();
    if (!name && el.tagName === 'BUTTON') name = el.textContent.trim();
    if (!name) problems.push(`${el.tagName.toLowerCase()}[name=${el.name}] has no label`);
  }
  const rgba = (s) => {
    const m = s.match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\/]+/).filter((x) => x).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => {
    const a = top[3] + under[3] * (1 - top[3]);
    if (a === 0) return [0, 0, 0, 0];
    return [0, 1, 2].map((i) => (top[i] * top[3] + under[i] * under[3] * (1 - top[3])) / a)
        .concat([a]);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  let checked = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el) || !visible(el)) continue;
    seen.add(el);
    const bg = background(el);
    const fg = over(rgba(getComputedStyle(el).color), bg);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    checked++;
    if (ratio < 4.5)
      problems.push(`contrast ${ratio.toFixed(2)}:1 < 4.5:1 for "${n.textContent.trim().slice(0, 40)}"`);
  }
  if (checked === 0) problems.push('no visible text checked');
  // Touch targets: at least 48 x 48 CSS px for every visible control.
  for (const el of document.querySelectorAll('a, button, summary, input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 48 || r.height < 48)
      problems.push(`touch target ${Math.round(r.width)}x${Math.round(r.height)} px < 48x48: ` +
          `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}"`);
  }
  return {problems, checked};
})()
"""

# The figures of the tablet page: one entry per card.
FIGURES_JS = r"""
(() => {
  const cards = document.querySelector('section.cards');
  const out = {period: cards ? cards.dataset.period : null, cards: {}};
  for (const c of document.querySelectorAll('article.card')) {
    const f = {};
    for (const d of c.querySelectorAll('data.fig')) f[d.dataset.f] = {value: Number(d.value), text: d.textContent};
    out.cards[c.dataset.q] = f;
  }
  out.tips = Array.from(document.querySelectorAll('article.tip')).map((t) => t.dataset.tip);
  return out;
})()
"""


def check_a11y(b, page):
    r = b.js(A11Y_JS)
    for p in r["problems"]:
        fail(page, f"accessibility: {p}")
    if not r["problems"]:
        ok(page, f"accessibility: lang, labels, contrast of {r['checked']} texts >= 4.5:1, "
                 "touch targets >= 48 px")


def check_figures(b, page, summary):
    fig = b.js(FIGURES_JS)
    period = summary.get("period", {}).get("id")
    if fig["period"] != period:
        fail(page, f"shows period {fig['period']}, the summary is {period}")
    for c in summary.get("consumption", []):
        q = c["quantity"]
        card = fig["cards"].get(q)
        if card is None:
            fail(page, f"no card for {q}")
            continue
        for field, want in (("eur", c.get("eur")), ("amount", c.get("amount"))):
            if want is None:
                continue
            got = card.get(field)
            if got is None or abs(got["value"] - want) > 1e-6 * max(1, abs(want)):
                fail(page, f"{q} {field}: page {got}, summary {want}")
            elif not re.search(r"\d", got["text"]):
                fail(page, f"{q} {field}: no figure in the text {got['text']!r}")
            else:
                ok(page, f"{q} {field} = {want} shown as {got['text']!r}")
        prev = c.get("previous")
        if prev and "previous" in card:
            if abs(card["previous"]["value"] - prev["amount"]) > 1e-6 * max(1, prev["amount"]):
                fail(page, f"{q} previous: page {card['previous']}, summary {prev['amount']}")
    return fig


def shots(b, artefacts, name, phone=False):
    sizes = [("portrait", 800, 1280), ("landscape", 1280, 800)]
    if phone:
        sizes.append(("phone", 390, 844))
    for label, w, h in sizes:
        path = os.path.join(artefacts, f"{name}-{label}.png")
        b.screenshot(path, w, h, mobile=label != "landscape")
        ok(name, f"screenshot {path}")


def pair(b, base, code):
    b.forget()
    b.goto(f"{base}/pair")
    b.submit(
        "(() => { const i = document.getElementById('code'); i.value = "
        + json.dumps(code)
        + "; i.form.submit(); })()"
    )
    return b.js("location.pathname")


def check_tablet(b, page, lang):
    """The tablet page as it is now: its language, its figures and tips
    against the summary JSON the API gives the same token (the page's own
    cookie), accessibility.  Returns the page's figures (None: none shown)."""
    got = b.js("document.documentElement.lang")
    if got != lang:
        fail(page, f"html lang is {got!r}, expected {lang!r}")
    else:
        ok(page, f"html lang={lang}")
    fig = b.js(FIGURES_JS)
    if not fig["period"]:
        fail(page, "no period shown (no summary for the dwelling?)")
        return None
    summary = b.js(
        f"fetch('/api/v1/me/summary?period={urllib.parse.quote(fig['period'])}')"
        ".then((r) => r.json())",
        await_promise=True,
    )
    if "error" in summary:
        fail(page, f"/api/v1/me/summary?period={fig['period']}: {summary}")
        return None
    check_figures(b, page, summary)
    want = [t["id"] for t in summary.get("tips", [])]
    if fig["tips"] != want:
        fail(page, f"tips shown {fig['tips']}, the summary's {want}")
    else:
        ok(page, f"tips shown = the summary's: {want}")
    check_a11y(b, page)
    return fig


CHOICES_JS = r"""
(() => {
  const s = document.querySelector('section#choices');
  if (!s) return null;
  return {
    title: (s.querySelector('h2') || {}).textContent || '',
    consent: (s.querySelector('[data-consent]') || {dataset: {}}).dataset.consent || null,
    options: Array.from(s.querySelectorAll('select[name=grantee] option')).map((o) => o.value),
    grants: Array.from(s.querySelectorAll('li[data-grant]')).map((li) => li.textContent.trim()),
  };
})()
"""


def check_choices(b, page, title):
    """The "Mes choix" section is there, titled in the page's language."""
    c = b.js(CHOICES_JS)
    if not c:
        fail(page, "no choices section (section#choices)")
    elif c["title"] != title:
        fail(page, f"choices section titled {c['title']!r}, expected {title!r}")
    else:
        ok(page, f"choices section {title!r}, consent {c['consent']}, options {c['options']}")
    return c


def live_choices(b, base, artefacts):
    """Share with the adviser from the tablet, see it listed, withdraw it;
    say yes to load curves.  By touch (the forms' buttons), no script of
    the page's (there is none)."""
    c = check_choices(b, "/tablet", "Mes choix")
    if not c:
        return
    if "conseil-tilleuls" not in c["options"]:
        fail("/tablet", f"the adviser is not offered: {c['options']}")
        return
    b.submit(
        "(() => { document.getElementById('share-who').value = 'conseil-tilleuls';"
        " document.getElementById('share-days').value = '14';"
        " document.querySelector('form[action=\"/tablet/share\"] button').click(); })()"
    )
    c = b.js(CHOICES_JS)
    if b.js("location.search") != "?thanks=choice" or len(c["grants"]) != 1 or \
            "conseil-tilleuls" not in c["grants"][0]:
        fail("/tablet/share", f"shared, then at {b.js('location.href')}, grants {c['grants']}")
        return
    ok("/tablet/share", f"shared: {c['grants'][0]!r}")
    check_a11y(b, "/tablet (a grant listed)")
    b.js("document.getElementById('choices').scrollIntoView()")
    shots(b, artefacts, "tablet-choices")
    b.submit("document.querySelector('form[action=\"/tablet/share/revoke\"] button').click()")
    c = b.js(CHOICES_JS)
    if c["grants"]:
        fail("/tablet/share/revoke", f"withdrawn, still listed: {c['grants']}")
    else:
        ok("/tablet/share/revoke", "withdrawn, no longer listed")
    for value, want in (("0", "no"), ("1", "yes")):
        b.submit("document.querySelector('form[action=\"/tablet/consent\"] "
                 f"button[value=\"{value}\"]').click()")
        c = b.js(CHOICES_JS)
        if c["consent"] != want:
            fail("/tablet/consent", f"said {want}, the section shows {c['consent']}")
        else:
            ok("/tablet/consent", f"load curves: {want}, shown")
    b.goto(f"{base}/tablet?lang=fr")


def run_live(args):
    base = args.base.rstrip("/")
    b = Browser()
    try:
        b.french()
        where = pair(b, base, args.code)
        if where != "/tablet":
            fail("/pair", f"the tenant code led to {where}, not /tablet")
            return
        ok("/pair", "paired, now on /tablet")
        fig = check_tablet(b, "/tablet", "fr")
        if not fig:
            return
        shots(b, args.artefacts, "tablet")
        # The language switch, by touch: the page in English, the same figures.
        b.submit("document.querySelector('header a.lang').click()")
        if check_tablet(b, "/tablet?lang=en", "en"):
            shots(b, args.artefacts, "tablet-en")
        b.goto(f"{base}/tablet?lang=fr")

        if fig["tips"]:
            tip = fig["tips"][0]
            b.submit(
                f"document.querySelector('article.tip[data-tip=\"{tip}\"] "
                "button[value=impossible]').click()"
            )
            after = b.js(FIGURES_JS)
            if b.js("location.search") != "?thanks=tip":
                fail("/tablet/tip", f"answered, then at {b.js('location.href')}")
            elif tip in after["tips"]:
                fail("/tablet/tip", f"tip {tip} answered 'not possible here' is still shown")
            else:
                ok("/tablet/tip", f"tip {tip} answered 'not possible here', no longer shown")
        else:
            fail("/tablet", "no tip to answer in the summary shown")

        text = f"browser test {int(time.time())} <fuite> sous l'évier"
        b.js("document.querySelector('section.report details').open = true")
        b.submit(
            "(() => { document.getElementById('report-text').value = "
            + json.dumps(text)
            + "; document.querySelector('button[name=kind][value=leak]').click(); })()"
        )
        if b.js("location.search") != "?thanks=report":
            fail("/tablet/report", f"filed, then at {b.js('location.href')}")
        else:
            ok("/tablet/report", "report filed")
        shots(b, args.artefacts, "tablet-after")
        live_choices(b, base, args.artefacts)

        where = pair(b, base, args.ambassador_code)
        if where != "/ambassador":
            fail("/pair", f"the ambassador code led to {where}, not /ambassador")
            return
        items = b.js(
            "Array.from(document.querySelectorAll('.report-item q')).map((q) => q.textContent)"
        )
        if text in items:
            ok("/ambassador", "the report filed on the tablet is listed")
        else:
            fail("/ambassador", f"the report {text!r} is not listed ({items})")
            return
        check_a11y(b, "/ambassador")
        shots(b, args.artefacts, "ambassador", phone=True)
        # The ambassador closes it (its button, by touch): the item leaves the page.
        b.submit(
            "Array.from(document.querySelectorAll('.report-item'))"
            f".find((li) => (li.querySelector('q') || {{}}).textContent === {json.dumps(text)})"
            ".querySelector('form button').click()"
        )
        items = b.js(
            "Array.from(document.querySelectorAll('.report-item q')).map((q) => q.textContent)"
        )
        if b.js("location.pathname") != "/ambassador":
            fail("/ambassador/report", f"closed, then at {b.js('location.href')}")
        elif text in items:
            fail("/ambassador/report", "the report closed is still listed")
        else:
            ok("/ambassador/report", "the report closed by the ambassador is no longer listed")
    finally:
        b.close()


def run_static(args):
    src = os.path.abspath(args.static)
    root = tempfile.mkdtemp(prefix="foyer-pages-")
    server = None
    b = None
    try:
        for name in os.listdir(src):
            shutil.copy(os.path.join(src, name), root)
        css = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web")
        shutil.copy(os.path.join(css, "foyer.css"), root)
        server = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "0"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = server.stdout.readline()
        m = re.search(r"port (\d+)", line)
        if not m:
            raise RuntimeError(f"http.server said {line!r}")
        base = f"http://127.0.0.1:{m.group(1)}"
        with open(os.path.join(root, "summary.json")) as f:
            summary = json.load(f)
        b = Browser()
        for page, name in (("tablet.html", "tablet"), ("tablet-en.html", "tablet-en"),
                           ("ambassador.html", "ambassador"), ("pair.html", "pair")):
            if not os.path.exists(os.path.join(root, page)):
                fail(page, "not written by the unit test")
                continue
            b.goto(f"{base}/{page}")
            if name.startswith("tablet"):
                check_figures(b, page, summary)
                check_choices(b, page, "My choices" if name == "tablet-en" else "Mes choix")
            check_a11y(b, page)
            shots(b, args.artefacts, name, phone=name == "ambassador")
    finally:
        if b:
            b.close()
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", help="foyerd's URL, http://127.0.0.1:PORT")
    ap.add_argument("--code", help="a tenant pairing code")
    ap.add_argument("--ambassador-code", help="an ambassador pairing code")
    ap.add_argument("--static", metavar="DIR", help="pages written by test_http_pages")
    ap.add_argument("--artefacts", required=True, help="where screenshots go")
    args = ap.parse_args()
    os.makedirs(args.artefacts, exist_ok=True)
    if args.static:
        run_static(args)
    elif args.base and args.code and args.ambassador_code:
        run_live(args)
    else:
        ap.error("give --static DIR, or --base, --code and --ambassador-code")
    if failures:
        print(f"browser_pages: {len(failures)} failures", file=sys.stderr)
        return 1
    print("browser_pages: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
