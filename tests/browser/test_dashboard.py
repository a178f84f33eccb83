#!/usr/bin/env python3
"""Browser test of the dashboard: headless Chromium through Selenium against the real built service.

It starts `.build/debug/donutwork-webhooks serve` on a throwaway SQLite file with a throwaway CA and a local
HTTPS receiver, creates a key, and then, in the browser, at desktop and at phone width: signs in with the key,
creates a webhook through the form (the token is shown once), reads the event types, watches the delivery of
an emitted event arrive, opens its attempts, resends it and sees a second attempt, filters by status, shows an
API error as the API's own sentence, re-enables a webhook the receiver disabled with 410, and deletes the
webhook. Screenshots of every page go to test-output/screenshots/.

Run after `swift build`: python3 tests/browser/test_dashboard.py
The last line is "N passed, M failed"; the exit status is 1 when anything failed.
"""

import base64
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, ".build", "debug", "donutwork-webhooks")
SCREENSHOTS = os.path.join(ROOT, "test-output", "screenshots")
API_VERSION = "2026-02-01"
PAID = "RecurringPayments.charge.paid"
FAILED = "RecurringPayments.charge.failed"
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">'
WAIT = 30


# ---- results -----------------------------------------------------------------------------------------------

class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"  ok    {name}", flush=True)
        else:
            self.failed += 1
            print(f"  FAIL  {name}" + (f": {detail}" if detail else ""), flush=True)
        return condition

    def fail(self, name, detail):
        self.check(name, False, detail)


# ---- fixtures: CA, receiver, service -----------------------------------------------------------------------

def run(args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def make_ca(folder):
    """A throwaway CA and a certificate for localhost signed by it."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=Dashboard Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign"], cwd=folder)
    run(["openssl", "req", *ec, "-keyout", "receiver.key", "-out", "receiver.csr", "-subj", "/CN=localhost"],
        cwd=folder)
    with open(os.path.join(folder, "san.ext"), "w") as handle:
        handle.write("subjectAltName=DNS:localhost\n")
    run(["openssl", "x509", "-req", "-in", "receiver.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "receiver.pem", "-days", "2", "-extfile", "san.ext"], cwd=folder)
    return (os.path.join(folder, "ca.pem"), os.path.join(folder, "receiver.pem"),
            os.path.join(folder, "receiver.key"))


class Receiver:
    """HTTPS on localhost: 204 for every POST, 410 Gone on /gone (which disables the webhook)."""

    def __init__(self, certificate, key):
        self.requests = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append((self.path, dict(self.headers), body))
                status = 410 if self.path.startswith("/gone") else 204
                self.send_response(status)
                if status == 410:
                    message = b"gone for good"
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(message)))
                    self.end_headers()
                    self.wfile.write(message)
                else:
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            address_family = socket.AF_INET6

            def server_bind(self):
                # Both stacks: "localhost" may resolve to ::1 or 127.0.0.1.
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                super().server_bind()

        try:
            self.server = Server(("::", 0), Handler)
        except OSError:
            Server.address_family = socket.AF_INET
            Server.server_bind = http.server.ThreadingHTTPServer.server_bind
            self.server = Server(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebhookService:
    def __init__(self, folder, ca_file):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database = "sqlite:" + os.path.join(folder, "x.db")
        self.log = open(os.path.join(folder, "serve.log"), "w")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--listen", f"127.0.0.1:{self.port}", "--database", self.database,
             "--allow-private-targets", "--ca-file", ca_file, "--rate-limit", "0", "--tls-check-timeout", "5"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError("the service did not answer /healthz within 20 s")

    def make_key(self, company, permissions):
        return run([BINARY, "keys", "create", "--company", company, "--permissions", permissions,
                    "--database", self.database]).stdout.strip()

    def call(self, key, method, path, body=None):
        """One API call; returns (status, parsed JSON)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + f"/{API_VERSION}" + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# ---- browser -----------------------------------------------------------------------------------------------

def find_executable(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def start_browser():
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--lang=en-US", "--no-first-run", "--disable-extensions"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    binary = find_executable("chromium", "chromium-browser", "google-chrome")
    if binary:
        options.binary_location = binary
    driver_path = find_executable("chromedriver")
    service = DriverService(executable_path=driver_path) if driver_path else DriverService()
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


def set_viewport(driver, width, height, mobile):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def screenshot(driver, name):
    """A full-page PNG in test-output/screenshots."""
    path = os.path.join(SCREENSHOTS, name + ".png")
    try:
        metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = driver.execute_script("return document.documentElement.clientWidth")
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": max(1, size["height"]), "scale": 1}})
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))
    except WebDriverException:
        driver.save_screenshot(path)
    print(f"        screenshot {os.path.relpath(path, ROOT)}", flush=True)


def wait_for(driver, condition, timeout=WAIT, refresh=None):
    """Waits until condition(driver) is truthy, clicking a refresh button between looks when given."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = condition(driver)
            if last:
                return last
        except WebDriverException:
            pass
        if refresh:
            try:
                driver.find_element(By.ID, refresh).click()
            except WebDriverException:
                pass
        time.sleep(0.5)
    raise TimeoutException(f"waited {timeout} s")


def click(driver, css, timeout=WAIT, refresh=None):
    """Clicks the element matching css once it exists. The dashboard re-renders its lists on a timer, so an
    element found a moment earlier may be gone: each try looks it up again and clicks in the same step."""
    def attempt(d):
        d.find_element(By.CSS_SELECTOR, css).click()
        return True
    wait_for(driver, attempt, timeout, refresh)


def text_when(driver, css, predicate=bool, timeout=WAIT, refresh=None):
    """The text of the element matching css once predicate(text) holds, read in the step that finds it."""
    def look(d):
        text = d.find_element(By.CSS_SELECTOR, css).text
        return text if predicate(text) else None
    return wait_for(driver, look, timeout, refresh)


def attribute_when(driver, css, name, timeout=WAIT, refresh=None):
    """An attribute of the element matching css, read in the step that finds it."""
    return wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute(name), timeout, refresh)


def visible(driver, element_id):
    element = driver.find_element(By.ID, element_id)
    return element if element.is_displayed() else None


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


# ---- the scenario ------------------------------------------------------------------------------------------

def scenario(results, driver, service, receiver, key, label, width, height, mobile):
    prefix = f"{label}-"
    set_viewport(driver, width, height, mobile)
    base = service.base
    check = results.check
    print(f"== {label} ({width}x{height})", flush=True)

    # Sign in.
    driver.get(base + "/dashboard")
    driver.execute_script("sessionStorage.clear()")
    driver.get(base + "/dashboard/")
    wait_for(driver, lambda d: visible(d, "view-key"))
    check(f"{label}: /dashboard redirects to the sign-in page", driver.current_url.endswith("/dashboard/"))
    screenshot(driver, prefix + "01-sign-in")

    driver.find_element(By.ID, "key-input").send_keys("dwk_not-a-real-key")
    driver.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait_for(driver, lambda d: visible(d, "error"))
    check(f"{label}: a wrong key shows the API's sentence",
          text_of(driver, "error-text") == "The API key is unknown or revoked.", text_of(driver, "error-text"))
    screenshot(driver, prefix + "02-wrong-key")

    field = driver.find_element(By.ID, "key-input")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait_for(driver, lambda d: visible(d, "view-webhooks"))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#create-events input[type=checkbox]"))
    check(f"{label}: the key is kept in sessionStorage",
          driver.execute_script("return sessionStorage.getItem('donutwork.apiKey')") == key)
    screenshot(driver, prefix + "03-webhooks")

    # Create a webhook through the form; its name tries to inject markup.
    name = f"{HOSTILE} Billing {label}"
    url = f"https://localhost:{receiver.port}/hook"
    driver.find_element(By.ID, "create-name").send_keys(name)
    driver.find_element(By.ID, "create-description").send_keys("Invoice and payment updates")
    driver.find_element(By.ID, "create-url").send_keys(url)
    click(driver, f"#create-events input[value='{PAID}']")
    driver.find_element(By.ID, "create-submit").click()
    wait_for(driver, lambda d: visible(d, "token-box"))
    token = text_of(driver, "token-value")
    check(f"{label}: the token is shown once after create", token.startswith("whsec_"), token)
    webhook_id = attribute_when(driver, "#webhook-list .webhook", "data-id")
    listed_name = text_when(driver, f"#webhook-list .webhook[data-id='{webhook_id}'] .webhook-name")
    check(f"{label}: the new webhook is listed with its name as text", listed_name == name, listed_name)
    check(f"{label}: a hostile name injects nothing",
          not driver.find_elements(By.CSS_SELECTOR, "#webhook-list img") and driver.title != "pwned")
    driver.find_element(By.ID, "token-copy").click()
    wait_for(driver, lambda d: text_of(d, "token-copied"))
    check(f"{label}: the copy button answers", "opied" in text_of(driver, "token-copied")
          or "elected" in text_of(driver, "token-copied"), text_of(driver, "token-copied"))
    screenshot(driver, prefix + "04-created-token")
    status, shown = service.call(key, "GET", f"/webhooks/{webhook_id}.json")
    check(f"{label}: the API has the webhook, token redacted", status == 200 and shown["token"] == "redacted")
    driver.find_element(By.ID, "token-dismiss").click()
    check(f"{label}: the token is gone once dismissed",
          not driver.find_element(By.ID, "token-box").is_displayed() and text_of(driver, "token-value") == "")

    # An API error is shown as the API's sentence.
    bad_url = "https://localhost:1/hook"
    _, expected = service.call(key, "POST", "/webhooks.json",
                               {"webhook": {"name": "Unreachable", "url": bad_url, "events": [PAID]}})
    driver.find_element(By.ID, "create-name").send_keys("Unreachable")
    driver.find_element(By.ID, "create-url").send_keys(bad_url)
    click(driver, f"#create-events input[value='{PAID}']")
    driver.find_element(By.ID, "create-submit").click()
    wait_for(driver, lambda d: visible(d, "error"))
    # The sentence names how long libcurl tried ("after 0 ms"), which may differ by a millisecond.
    def same_sentence(shown, sent):
        return re.sub(r"\d+ ms", "N ms", shown) == re.sub(r"\d+ ms", "N ms", sent)
    check(f"{label}: a refused create shows the API's own sentence",
          same_sentence(text_of(driver, "error-text"), expected["error"]),
          f"{text_of(driver, 'error-text')!r} vs {expected}")
    screenshot(driver, prefix + "05-api-error")
    driver.find_element(By.ID, "error-close").click()
    driver.find_element(By.ID, "create-form").find_element(By.ID, "create-name").clear()
    driver.find_element(By.ID, "create-url").clear()

    # Event types.
    driver.find_element(By.CSS_SELECTOR, "#tabs a[data-view=types]").click()
    wait_for(driver, lambda d: visible(d, "view-types"))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#type-list li"))
    types = wait_for(driver, lambda d: [item.text for item in d.find_elements(By.CSS_SELECTOR, "#type-list li")])
    check(f"{label}: event types are listed", PAID in types and FAILED in types, str(types))
    screenshot(driver, prefix + "06-event-types")

    # Emit an event and watch its delivery arrive.
    status, accepted = service.call(key, "POST", "/events.json",
                                    {"event": {"type": PAID, "data": {"invoice": "inv_1", "amount": 4200}}})
    check(f"{label}: the event is accepted with one delivery", status == 202 and accepted["deliveries"] == 1,
          f"{status} {accepted}")
    driver.get(base + f"/dashboard/#/webhooks/{webhook_id}/deliveries")
    wait_for(driver, lambda d: visible(d, "view-deliveries"))
    delivery_id = attribute_when(driver, "#delivery-list .delivery[data-status=succeeded]", "data-id",
                                 refresh="deliveries-refresh")
    check(f"{label}: the delivery appears as succeeded", bool(delivery_id))
    check(f"{label}: the page names the webhook as text", text_of(driver, "hook-name").startswith(name))
    bars = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart rect[data-status=succeeded]"))
    check(f"{label}: the chart shows a succeeded bar", len(bars) >= 1)
    click(driver, f".delivery[data-id='{delivery_id}'] button[data-action=attempts]")
    first = text_when(driver, f".delivery[data-id='{delivery_id}'] .attempt")
    check(f"{label}: the attempt shows status 204 and a latency", "HTTP 204" in first and " ms" in first, first)
    screenshot(driver, prefix + "07-deliveries")

    # Resend it and see a second attempt.
    click(driver, f".delivery[data-id='{delivery_id}'] button[data-action=resend]")
    wait_for(driver, lambda d: d.find_elements(
        By.CSS_SELECTOR, f".delivery[data-id='{delivery_id}'][data-status=succeeded] .attempt[data-number='2']"),
        refresh="deliveries-refresh")
    attempts = wait_for(driver, lambda d: len(d.find_elements(
        By.CSS_SELECTOR, f".delivery[data-id='{delivery_id}'] .attempt")) or None)
    check(f"{label}: a resend adds a second attempt", attempts == 2, str(attempts))
    status, detail = service.call(key, "GET", f"/deliveries/{delivery_id}.json")
    check(f"{label}: the API agrees: two attempts", status == 200 and len(detail["attempts"]) == 2)
    screenshot(driver, prefix + "08-resent")

    # Filter by status.
    Select(driver.find_element(By.ID, "status-filter")).select_by_value("failed")
    wait_for(driver, lambda d: visible(d, "deliveries-empty"))
    check(f"{label}: the failed filter shows none",
          not driver.find_elements(By.CSS_SELECTOR, "#delivery-list .delivery"))
    screenshot(driver, prefix + "09-filter-failed")
    Select(driver.find_element(By.ID, "status-filter")).select_by_value("succeeded")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#delivery-list .delivery[data-status=succeeded]"))
    check(f"{label}: the succeeded filter shows it", True)
    Select(driver.find_element(By.ID, "status-filter")).select_by_value("")

    # A webhook the receiver disabled with 410, enabled again from the page.
    status, gone = service.call(key, "POST", "/webhooks.json", {"webhook": {
        "name": f"Gone {label}", "url": f"https://localhost:{receiver.port}/gone", "events": [FAILED]}})
    check(f"{label}: a second webhook is created through the API", status == 201, str(gone))
    service.call(key, "POST", "/events.json", {"event": {"type": FAILED, "data": {"invoice": "inv_2"}}})
    deadline = time.time() + WAIT
    while time.time() < deadline and service.call(key, "GET", f"/webhooks/{gone['id']}.json")[1]["status"] != "disabled":
        time.sleep(0.3)
    driver.get(base + "/dashboard/#/webhooks")
    enable = f"#webhook-list .webhook[data-id='{gone['id']}'] button[data-action=enable]"
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, enable), refresh="webhooks-refresh")
    screenshot(driver, prefix + "10-disabled")
    click(driver, enable)
    text_when(driver, f"#webhook-list .webhook[data-id='{gone['id']}'] .badge", lambda text: "enabled" in text.lower())
    check(f"{label}: re-enable turns the webhook on",
          service.call(key, "GET", f"/webhooks/{gone['id']}.json")[1]["status"] == "enabled")
    driver.get(base + f"/dashboard/#/webhooks/{gone['id']}/deliveries")
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#delivery-list .delivery"),
             refresh="deliveries-refresh")
    click(driver, "#delivery-list .delivery button[data-action=attempts]")
    gone_attempt = text_when(driver, "#delivery-list .attempt")
    check(f"{label}: a 410 attempt shows its status and response excerpt",
          "HTTP 410" in gone_attempt and "gone for good" in gone_attempt, gone_attempt)
    screenshot(driver, prefix + "11-gone-attempt")
    service.call(key, "DELETE", f"/webhooks/{gone['id']}.json")

    # Delete the first webhook from its deliveries page.
    driver.get(base + f"/dashboard/#/webhooks/{webhook_id}/deliveries")
    wait_for(driver, lambda d: text_of(d, "hook-name").startswith(name))
    click(driver, "#hook-actions button[data-action=delete]")
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#hook-actions button[data-action=confirm]"))
    screenshot(driver, prefix + "12-confirm-delete")
    click(driver, "#hook-actions button[data-action=confirm]")
    wait_for(driver, lambda d: visible(d, "view-webhooks"))
    wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, f"#webhook-list .webhook[data-id='{webhook_id}']"))
    check(f"{label}: the webhook is deleted",
          service.call(key, "GET", f"/webhooks/{webhook_id}.json")[0] == 404)
    screenshot(driver, prefix + "13-deleted")

    # Forget the key.
    driver.find_element(By.ID, "forget-key").click()
    wait_for(driver, lambda d: visible(d, "view-key"))
    check(f"{label}: forgetting the key clears sessionStorage",
          driver.execute_script("return sessionStorage.getItem('donutwork.apiKey')") is None)

    # No script errors and no policy violations on the page.
    problems = [entry["message"] for entry in driver.get_log("browser")
                if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]]
    check(f"{label}: no script errors or CSP violations in the console", not problems, "; ".join(problems))


def main():
    results = Results()
    if not os.path.exists(BINARY):
        results.fail("the service is built", f"{BINARY} is missing: run swift build first")
        print(f"{results.passed} passed, {results.failed} failed")
        return 1
    os.makedirs(SCREENSHOTS, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="dw-browser-")
    receiver = service = driver = None
    try:
        ca_file, certificate, private_key = make_ca(folder)
        receiver = Receiver(certificate, private_key)
        service = WebhookService(folder, ca_file)
        key = service.make_key("demo", "webhooks:read,webhooks:write,events:write")
        driver = start_browser()
        for label, width, height, mobile in [("desktop", 1280, 900, False), ("phone", 375, 800, True)]:
            try:
                scenario(results, driver, service, receiver, key, label, width, height, mobile)
            except Exception as error:  # one failed step ends this width, not the run
                results.fail(f"{label}: scenario ran to the end", f"{type(error).__name__}: {error}")
                traceback.print_exc()
                try:
                    screenshot(driver, f"{label}-failure")
                except Exception:
                    pass
    except Exception as error:
        results.fail("set-up", f"{type(error).__name__}: {error}")
        traceback.print_exc()
    finally:
        if driver:
            driver.quit()
        if service:
            service.stop()
            if results.failed:
                with open(os.path.join(folder, "serve.log")) as log:
                    print("-- serve.log (last lines)")
                    print("".join(log.readlines()[-30:]))
        if receiver:
            receiver.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
