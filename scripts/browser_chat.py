"""Headless Chromium joins the ws_chat example: the page served on :2356 connects to the chat on
:2357; this script is a second chat member (a plain WebSocket client) and checks both directions.

Drives Chromium over the DevTools protocol (--remote-debugging-port) with the `websockets` package.
Usage: python3 scripts/browser_chat.py [chromium binary]   (the ws_chat example must be running)
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
DEVTOOLS_PORT = 2389  # outside the ports the project's tests use
PAGE = "http://127.0.0.1:2356/?name=chromium"
CHAT = "ws://127.0.0.1:2357/?name=script"


def devtools(path, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{DEVTOOLS_PORT}{path}", method=method)
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


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
        target = devtools("/json/new?about:blank", method="PUT")
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as cdp, \
                websockets.connect(CHAT) as me:
            ids = iter(range(1, 1 << 30))

            async def call(method, **params):
                mid = next(ids)
                await cdp.send(json.dumps({"id": mid, "method": method, "params": params}))
                while True:
                    msg = json.loads(await cdp.recv())
                    if msg.get("id") == mid:
                        if "error" in msg:
                            raise RuntimeError(f"{method}: {msg['error']}")
                        return msg["result"]

            async def page_eval(expr):
                r = await call("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
                if "exceptionDetails" in r:
                    raise RuntimeError(f"page error: {r['exceptionDetails']}")
                return r["result"].get("value")

            async def until(what, predicate, timeout=15):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    if predicate():
                        return
                    await asyncio.sleep(0.05)
                raise SystemExit(f"timed out waiting for {what}")

            assert (await me.recv()) == "* script joined"
            await call("Page.navigate", url=PAGE)
            # The browser's join reaches this client...
            assert (await asyncio.wait_for(me.recv(), 15)) == "* chromium joined"
            # ...the browser sends through the page's form...
            await page_eval("""(async () => {
                while (document.getElementById('status').textContent !== 'connected')
                    await new Promise(r => setTimeout(r, 20));
                document.getElementById('text').value = 'hello from chromium ✓';
                document.getElementById('form').requestSubmit();
            })()""")
            assert (await asyncio.wait_for(me.recv(), 15)) == "chromium: hello from chromium ✓"
            # ...and receives what others send.
            await me.send("hello browser")
            lines = []

            async def poll():
                lines[:] = await page_eval("window.chatLines")

            deadline = time.monotonic() + 15
            while "script: hello browser" not in lines:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the page never showed the message; it shows {lines}")
                await poll()
                await asyncio.sleep(0.05)
            print("browser chat: page lines:", lines)
        print("browser chat: OK (chromium sent and received through ws_chat)")
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


asyncio.run(main())
