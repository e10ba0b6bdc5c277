"""Drives watchfire's web UI in headless Chromium through chromedriver (python3-selenium),
for tests/ui_browser.rs. Usage: browser.py BASE_URL SCREENSHOT_DIR ADMIN_TOKEN

Fresh profile in a temporary directory, no network fetches besides BASE_URL (background
networking, sync, component updates are off). Every page is checked for the scenario's
content and for JavaScript errors in the browser log; one screenshot per page is saved.
Exits non-zero with a message on the first failure."""

import os
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE, SHOTS, TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(SHOTS, exist_ok=True)
profile = tempfile.mkdtemp(prefix="watchfire-chromium-")

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--window-size=1000,1000",
]:
    options.add_argument(arg)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)
# A condition that reads a page being replaced sees a stale element: try it again.
wait = WebDriverWait(driver, 20, ignored_exceptions=[StaleElementReferenceException])
failures = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    failures.append(msg)


def js_errors(page, answered_400=None):
    for entry in driver.get_log("browser"):
        message = entry.get("message", "")
        # A page that shows a user's error answers 400 on purpose; Chromium logs that status.
        if answered_400 and message.startswith(BASE + answered_400) and "status of 400" in message:
            continue
        if entry.get("level") == "SEVERE":
            fail("%s: JavaScript error in the browser log: %s" % (page, entry.get("message")))


def shot(name):
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    print("screenshot " + path, flush=True)


def click_and_load(css_by, selector):
    """Clicks an element that navigates and waits until the old page is gone and the new
    one has loaded (reading the old document meanwhile is a flaky failure)."""
    load_after(lambda: driver.find_element(css_by, selector).click())


def load_after(action):
    """Runs `action` (a click or a form submit that navigates) and waits for the new page."""
    before = driver.find_element(By.TAG_NAME, "body")
    action()
    wait.until(EC.staleness_of(before))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def open_page(path, name, *texts, answered_400=False):
    driver.get(BASE + path)
    body = driver.find_element(By.TAG_NAME, "body").text
    for t in texts:
        if t not in body:
            fail("%s: %r not on the page" % (path, t))
    # Charts and completions are drawn after DOMContentLoaded.
    time.sleep(0.5)
    shot(name)
    js_errors(path, path if answered_400 else None)
    return body


def has_chart():
    try:
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".chart .uplot"))
        return True
    except Exception:
        return False


try:
    # / redirects to /alerts: both alerts, grouped, with their severities and the down target.
    open_page("/", "alerts", "HighLatency", "TargetDown", "critical", "warning", "receiver team")
    if not driver.current_url.endswith("/alerts"):
        fail("/ did not redirect to /alerts: " + driver.current_url)
    # The list refreshes itself (htmx swaps #alert-list every 10 s): a mark on the old element
    # disappears and the alerts are still listed.
    driver.execute_script("document.getElementById('alert-list').dataset.mark = 'old'")
    try:
        WebDriverWait(driver, 25).until(lambda d: d.execute_script(
            "var e = document.getElementById('alert-list'); return e && !e.dataset.mark"))
        if "HighLatency" not in driver.find_element(By.ID, "alert-list").text:
            fail("/alerts: the refreshed list lost the alerts")
    except Exception:
        fail("/alerts: the list did not refresh itself within 25 s")
    js_errors("/alerts (refresh)")
    # The filter keeps its matchers in the query string.
    box = driver.find_element(By.ID, "filter")
    box.send_keys('service="checkout"')
    load_after(box.submit)
    wait.until(lambda d: "filter=" in d.current_url)
    body = driver.find_element(By.TAG_NAME, "body").text
    if "TargetDown" in body or "checkout" not in body:
        fail("/alerts?filter: the filter did not apply")
    shot("alerts-filtered")
    js_errors("/alerts?filter")

    # The why-did-it-fire page of the checkout alert.
    click_and_load(By.LINK_TEXT, "HighLatency")
    wait.until(lambda d: "/alerts/" in d.current_url)
    body = driver.find_element(By.TAG_NAME, "body").text
    for t in ["Why it fired", "request_latency_seconds", "Thresholds", "critical",
              "https://runbooks.example/latency", "State timeline", "team",
              "Notification attempts", "webhook"]:
        if t not in body:
            fail("alert detail: %r missing" % t)
    if not driver.find_elements(By.CSS_SELECTOR, "a[href='https://runbooks.example/latency']"):
        fail("alert detail: the runbook link is not a link")
    if not has_chart():
        fail("alert detail: no chart drawn")
    if not [b for b in driver.find_elements(By.CSS_SELECTOR, "span.badge.ok") if b.text == "sent"]:
        fail("alert detail: no sent notification attempt listed")
    shot("alert-detail")
    js_errors("/alerts/<fp>")

    # A silence from the alert's Silence button.
    driver.get(BASE + "/alerts?filter=" + "service%3D%22checkout%22")
    click_and_load(By.CSS_SELECTOR, "a[aria-label='Silence HighLatency']")
    wait.until(lambda d: d.find_elements(By.ID, "matchers"))
    matchers = driver.find_element(By.ID, "matchers").get_attribute("value")
    if 'service="checkout"' not in matchers:
        fail("silence form: matchers not prefilled from the alert: " + matchers)
    click_and_load(By.ID, "preview")
    wait.until(lambda d: "preview=1" in d.current_url)
    if "checkout" not in driver.find_element(By.TAG_NAME, "body").text:
        fail("silence form: the preview does not list the alert")
    shot("silence-new")
    js_errors("/silences/new")
    driver.find_element(By.ID, "createdBy").send_keys("browser-test")
    driver.find_element(By.ID, "comment").send_keys("made by the browser test")
    driver.find_element(By.ID, "adminToken").send_keys(TOKEN)
    click_and_load(By.ID, "save")
    wait.until(lambda d: "created=" in d.current_url or "error" in d.page_source)
    if "created=" not in driver.current_url:
        fail("silence form: not saved: " + driver.find_element(By.TAG_NAME, "body").text[:500])
    body = open_page(driver.current_url.replace(BASE, ""), "silences", "browser-test", "active")
    # The silenced alert shows its badge.
    open_page("/alerts", "alerts-silenced", "silenced")

    # Rules, then the preview of the threshold rule with a lower warning level.
    open_page("/rules", "rules", "latency", "HighLatency", "TargetDown", "ok", "override")
    click_and_load(By.CSS_SELECTOR, "a[href^='/rules/preview?group=latency&rule=HighLatency']")
    wait.until(lambda d: d.find_elements(By.ID, "preview-form"))
    warning = driver.find_element(By.ID, "warning")
    warning.clear()
    warning.send_keys("0.05")
    # The form is a GET: wait for the new page, not for the old one's result.
    click_and_load(By.ID, "run-preview")
    wait.until(lambda d: d.find_elements(By.ID, "preview-result") or d.find_elements(By.ID, "preview-none"))
    body = driver.find_element(By.TAG_NAME, "body").text
    for t in ['service="checkout"', 'service="search"', 'service="cart"', "critical", "buffer's window"]:
        if t not in body:
            fail("rule preview: %r missing" % t)
    shot("rule-preview")
    js_errors("/rules/preview")

    # Targets: the pools, the down target with its error, sparklines.
    open_page("/targets", "targets", "app", "broken", "up", "down")
    if not driver.find_elements(By.CSS_SELECTOR, "svg.spark polyline"):
        fail("/targets: no up sparkline")
    click_and_load(By.ID, "show-discovered")
    wait.until(lambda d: "discovered=1" in d.current_url)
    if "__address__" not in driver.find_element(By.TAG_NAME, "body").text:
        fail("/targets: discovered labels do not unfold")

    # Query: a table, a chart, completion from the API; an error with its position.
    open_page("/query?expr=request_latency_seconds", "query", 'service="checkout"', "2.5")
    if not has_chart():
        fail("/query: no chart drawn")
    try:
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#metric-names option")) > 0)
        names = [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "#metric-names option")]
        if "request_latency_seconds" not in names:
            fail("/query: completion lacks request_latency_seconds")
    except Exception:
        fail("/query: no completions loaded")
    js_errors("/query (chart)")
    open_page("/query?expr=sum(rate(up[5m])", "query-error", "parse error", answered_400=True)
    if not driver.find_elements(By.CSS_SELECTOR, "pre.errpos"):
        fail("/query: the error position is not shown")

    # Status: the routing tester.
    open_page("/status", "status", "Routing tree", "Delivery per receiver", "Configuration", "buffer size",
              "Head cardinality", "Series per metric name", "request_latency_seconds")
    box = driver.find_element(By.ID, "labels")
    box.send_keys('{alertname="HighLatency", service="checkout"}')
    load_after(box.submit)
    wait.until(lambda d: "Reaches:" in d.find_element(By.TAG_NAME, "body").text)
    shot("status-route-test")
    js_errors("/status")
finally:
    driver.quit()

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("browser checks passed")
