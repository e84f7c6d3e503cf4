"""The dashboard (`/_fcemu/ui`) in headless Chromium, against `fcemu up` serving the photo app
(examples/photo-app, built by its ./build): what a developer sees and does in the browser, and
what a page of another site may not do.

FCEMU_BIN names the binary (default target/debug/fcemu), CHROMIUM the browser (default
/usr/bin/chromium). With FCEMU_SCREENSHOTS=DIR each view is saved as DIR/<view>.png
(scripts/screenshots)."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "photo-app"
SHOTS = os.environ.get("FCEMU_SCREENSHOTS")


@pytest.fixture(scope="module")
def fcemu(tmp_path_factory):
    ready = tmp_path_factory.mktemp("fcemu") / "ready.json"
    binary = os.environ.get("FCEMU_BIN", str(REPO / "target" / "debug" / "fcemu"))
    args = [binary, "up", "--in-memory", "--deterministic", "--no-watch", "--listen", "127.0.0.1:0",
            "--ready-file", str(ready)]
    proc = subprocess.Popen(args, cwd=APP, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if line.startswith("fcemu: ready"):
            break
    else:
        pytest.fail("fcemu up did not start")
    info = json.loads(ready.read_text())
    yield info
    proc.terminate()
    proc.wait(timeout=15)


@pytest.fixture(scope="module")
def page(fcemu):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(fcemu["ui"])
        yield page
        assert not errors, errors
        browser.close()


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)


def idle(fcemu):
    requests.post(f"{fcemu['services']}/_fcemu/idle?timeout=60", timeout=70).raise_for_status()


def test_the_ready_line_names_the_dashboard(fcemu):
    assert fcemu["ui"] == f"{fcemu['services']}/_fcemu/ui"
    r = requests.get(fcemu["ui"], timeout=10)
    assert r.status_code == 200 and "<title>fcemu</title>" in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_the_functions_are_listed(page):
    rows = page.locator("#function-list tbody tr")
    expect(rows).to_have_count(4)
    for name in ["aggregate", "api", "audit", "thumbnail"]:
        expect(page.locator(f'#function-list tr[data-function="{name}"]')).to_contain_text(name)
    expect(page.locator('#function-list tr[data-function="api"]')).to_contain_text("nodejs20")
    shot(page, "functions")


def test_an_invocation_from_the_page_appears_live(page, fcemu):
    page.goto(f"{fcemu['ui']}#functions")
    page.select_option("#invoke-function", "aggregate")
    page.fill("#invoke-event", '{"triggerTime": "2024-01-01T00:01:00Z", "triggerName": "manual", "payload": ""}')
    page.click("#invoke-form button[type=submit]")
    expect(page.locator("#invoke-result")).to_contain_text("2024-01-01T00:00Z")
    page.click('nav a[data-view="invocations"]')  # the list was loaded before: no reload
    row = page.locator("#invocation-list tbody tr", has_text="aggregate")
    expect(row.first).to_contain_text("success")
    row.first.click()
    expect(page.locator("#invocation-detail")).to_contain_text("summarized 0 reading(s)")
    shot(page, "invocations")


def test_objects_are_browsable_and_an_upload_fires_the_trigger(page, fcemu):
    page.goto(f"{fcemu['ui']}#storage")
    page.click('#bucket-list a:text-is("uploads")')
    page.set_input_files("#upload-form input[type=file]", str(APP / "tests" / "harbor.jpg"))
    page.fill('#upload-form input[name="key"]', "photos/from-page.jpg")
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result")).to_contain_text("uploaded uploads/photos/from-page.jpg")
    expect(page.locator("#object-list")).to_contain_text("photos/")
    page.click('#object-list a:text-is("photos/")')
    expect(page.locator('#object-list tr[data-key="photos/from-page.jpg"]')).to_contain_text("image/jpeg")
    page.click('#object-list tr[data-key="photos/from-page.jpg"] a:text-is("from-page.jpg")')
    expect(page.locator("#object-detail")).to_contain_text("uploads/photos/from-page.jpg")
    expect(page.locator("#object-detail")).to_contain_text("content-type")
    shot(page, "storage")
    idle(fcemu)
    page.click('nav a[data-view="invocations"]')
    expect(page.locator("#invocation-list tbody tr", has_text="thumbnail").first).to_contain_text("on-upload")
    # Its row fired the stream function: the detail shows the chain both ways.
    page.locator("#invocation-list tbody tr", has_text="thumbnail").first.click()
    expect(page.locator("#invocation-detail")).to_contain_text("caused audit")
    page.locator("#invocation-detail a", has_text="caused audit").click()
    expect(page.locator("#invocation-detail")).to_contain_text("caused by thumbnail")
    page.click('nav a[data-view="tables"]')
    page.click('#table-list a:text-is("photoapp/photos")')
    expect(page.locator("#row-list")).to_contain_text("from-page")
    expect(page.locator("#stream-list")).to_contain_text("PutRow")  # what the audit trigger read
    shot(page, "tables")


def test_a_log_query_shows_the_functions_log_lines(page, fcemu):
    idle(fcemu)
    page.goto(f"{fcemu['ui']}#logs")
    page.select_option("#logstore", "photo-app/fc-logs")
    page.fill("#log-query", "functionName: thumbnail and thumbnail")
    page.click("#log-form button[type=submit]")
    expect(page.locator("#log-rows")).to_contain_text("thumbnail thumbs/from-page.jpg 96x128")
    expect(page.locator("#histogram .bar").first).to_be_visible()
    shot(page, "logs")


def test_batch_jobs_are_listed_with_their_tasks(page, fcemu):
    from batchcompute import Client

    host, port = fcemu["services"].removeprefix("http://").split(":")
    Client.register_region("cn-hangzhou", host, int(port))
    client = Client(host, "ak", "sk")
    task = {"InstanceCount": 2, "Parameters": {"Command": {"CommandLine": "echo $BATCH_COMPUTE_DAG_INSTANCE_ID"}}}
    job = {"Name": "nightly-report", "Priority": 1, "Type": "DAG", "JobFailOnInstanceFail": True,
           "DAG": {"Tasks": {"collect": task, "render": task}, "Dependencies": {"collect": ["render"]}}}
    client.create_job(job)
    idle(fcemu)
    page.goto(f"{fcemu['ui']}#batch")
    row = page.locator("#job-list tbody tr", has_text="nightly-report")
    expect(row).to_contain_text("Finished")
    expect(row).to_contain_text("render Finished after collect")
    expect(row).to_contain_text("#1 Finished (exit 0)")
    shot(page, "batch")


def test_the_clock_advances_and_fires_the_timer(page, fcemu):
    page.goto(f"{fcemu['ui']}#clock")
    page.fill('#advance-form input[name="by"]', "1m")
    page.click("#advance-form button[type=submit]")
    expect(page.locator("#advance-result")).to_contain_text("aggregate (every-minute)")
    expect(page.locator("#trigger-list")).to_contain_text("every-minute")
    shot(page, "clock")


def test_other_sites_pages_are_refused(fcemu):
    admin = fcemu["services"]
    cross = requests.post(f"{admin}/_fcemu/reset", headers={"Origin": "http://evil.example"}, timeout=10)
    assert cross.status_code == 403, cross.text
    assert "evil.example" in cross.json()["message"]
    rebinding = requests.get(f"{admin}/_fcemu/invocations", headers={"Host": "evil.example"}, timeout=10)
    assert rebinding.status_code == 403 and "--allow-host evil.example" in rebinding.json()["message"]
    no_token = requests.post(f"{admin}/_fcemu/clock/advance?by=1s", timeout=10,
                             headers={"Origin": admin, "Sec-Fetch-Site": "same-origin"})
    assert no_token.status_code == 403 and "x-fcemu-token" in no_token.json()["message"]
    # SDKs and the CLI send no Origin: unchanged.
    assert requests.post(f"{admin}/_fcemu/idle", timeout=10).status_code == 200
