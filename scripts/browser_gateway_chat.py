"""Headless Chromium, two users, in the Gateway `chat` example: two pages served on :55151 join
room 1 through the ChatGateway on :7272; one says something to everyone, the other answers in
private; both pages must show both messages and each other in the member list.

Drives Chromium over the DevTools protocol (--remote-debugging-port) with the `websockets` package.
Usage: python3 scripts/browser_gateway_chat.py [chromium binary]   (the chat example must be running)
"""
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

CHROMIUM = sys.argv[1] if len(sys.argv) > 1 else (shutil.which("chromium") or "/usr/bin/chromium")
DEVTOOLS_PORT = 2390  # outside the ports the project's tests use


def devtools(path, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{DEVTOOLS_PORT}{path}", method=method)
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


class Page:
    def __init__(self, cdp):
        self.cdp, self.next = cdp, 0

    async def call(self, method, **params):
        self.next += 1
        mid = self.next
        await self.cdp.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.cdp.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    async def eval(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page error: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def until(self, what, expr, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.eval(expr):
                return
            await asyncio.sleep(0.05)
        log = await self.eval("document.getElementById('log').innerText")
        raise SystemExit(f"timed out waiting for {what}; the page log shows: {log!r}")


async def main():
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         f"--user-data-dir={profile}", f"--remote-debugging-port={DEVTOOLS_PORT}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                devtools("/json/version")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("chromium did not open its DevTools port")
        ta = devtools("/json/new?about:blank", method="PUT")
        tb = devtools("/json/new?about:blank", method="PUT")
        async with websockets.connect(ta["webSocketDebuggerUrl"], max_size=None) as ca, \
                websockets.connect(tb["webSocketDebuggerUrl"], max_size=None) as cb:
            alice, bob = Page(ca), Page(cb)
            await alice.call("Page.navigate", url="http://127.0.0.1:55151/?room_id=1&name=alice")
            await alice.until("alice connected", "typeof me !== 'undefined' && me !== null")
            await bob.call("Page.navigate", url="http://127.0.0.1:55151/?room_id=1&name=bob")
            await bob.until("bob connected", "typeof me !== 'undefined' && me !== null")
            await alice.until("alice sees bob", "members.size === 2")
            await bob.until("bob sees alice", "members.size === 2")
            # Alice speaks to the room through the page's form.
            await alice.eval("""(() => {
                document.getElementById('to').value = 'all';
                document.getElementById('text').value = 'hello <bob> ✓';
                document.getElementById('form').requestSubmit();
            })()""")
            for page in (alice, bob):
                await page.until("the room message", "document.getElementById('log').innerText.includes('alice: hello <bob> ✓')")
            # Bob answers alice in private (the select lists alice by her client_id).
            alice_id = await alice.eval("me")
            await bob.eval(f"""(() => {{
                document.getElementById('to').value = {json.dumps(alice_id)};
                document.getElementById('text').value = 'psst';
                document.getElementById('form').requestSubmit();
            }})()""")
            await alice.until("the private message", "document.getElementById('log').innerText.includes('bob: 对你说: psst')")
            await bob.until("the private copy", "document.getElementById('log').innerText.includes('bob: 你对alice说: psst')")
            print("alice's page:", await alice.eval("document.getElementById('log').innerText"))
            print("bob's page:", await bob.eval("document.getElementById('log').innerText"))
        print("browser gateway chat: OK (two Chromium pages chatted through the Gateway cluster)")
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


asyncio.run(main())
