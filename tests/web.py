"""The real `tympan serve` in its own process on a free loopback port, HTTP requests to it, and a real
headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium) for the pages."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# the README shows copies of these in docs/screenshots; tests write here so a run leaves the tree clean
SCREENSHOTS = Path(os.environ.get("TYMPAN_SCREENSHOTS", Path(__file__).resolve().parents[1] / "build" / "screenshots"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(models, *options, token: str = "", env=None):
    """``(process, base_url)`` of ``tympan serve --models MODELS OPTIONS`` once it answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tympan", "serve", "--models", str(models), "--port", str(port),
                                *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):  # a loaded machine takes long to import torch
        try:
            urllib.request.urlopen(f"{base}/api/health?token={token}", timeout=1)
            return process, base
        except urllib.error.HTTPError:
            return process, base  # up, and asking for its token
        except OSError:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read())
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not start in 120 s")


def stop_server(process) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


@contextmanager
def serving(models, *options, token: str = "", env=None):
    process, base = start_server(models, *options, token=token, env=env)
    try:
        yield base
    finally:
        stop_server(process)


def request(url, fields=None, files=None, headers=None, method=None, timeout=60):
    """``(status, JSON or text)`` of a GET, or of a multipart POST when ``fields`` or ``files`` are given."""
    data = None
    headers = dict(headers or {})
    if fields is not None or files is not None:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in (fields or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (filename, content) in (files or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                         f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
        data = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    return _answer(urllib.request.Request(url, data=data, headers=headers, method=method), timeout)


def post_json(url, payload, method="POST", timeout=60):
    """``(status, JSON or text)`` of a request with a JSON body."""
    return _answer(urllib.request.Request(url, data=json.dumps(payload).encode(), method=method,
                                          headers={"Content-Type": "application/json"}), timeout)


def _answer(req, timeout):
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode()
    try:
        return status, json.loads(body)
    except json.JSONDecodeError:
        return status, body


@contextmanager
def chromium(width=1280, height=900):
    """A headless Chromium driven by Selenium. ``make test`` installs Debian's chromium and chromium-driver;
    the flags keep it off the network (this machine has none) and out of the user's profile."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="page tests need selenium (the dev extra)")
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        raise AssertionError(f"page tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
                             "make test installs them (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    """Save the page as NAME.png in build/screenshots (or $TYMPAN_SCREENSHOTS)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_for(driver, condition, timeout=60, message="the page did not get there"):
    """Poll ``condition(driver)`` until it is truthy; its value. Fails with the browser's console on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition(driver)
        if value:
            return value
        time.sleep(0.2)
    console = "\n".join(entry["message"] for entry in driver.get_log("browser"))
    raise AssertionError(f"{message} in {timeout} s; browser console:\n{console}")
