"""Headless Chromium for the pages people look at (the planning board, the invoice): Debian's chromium and
chromium-driver, which the test command installs, driven by Selenium. Selenium Manager (which would download a
driver) is never asked."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def chromium() -> tuple[str, str]:
    """Chromium and its driver, as the test command installed them. Without them a test fails where the test
    command could have installed them (CI, or root: DN_CHROMEDRIVER=missing) and skips only on a machine where it
    could not (not root) — never silently in CI."""
    told = os.environ.get("DN_CHROMEDRIVER", "")
    driver = (told if told not in ("", "missing") else None) or shutil.which("chromedriver")
    browser = os.environ.get("DN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if driver and os.access(browser, os.X_OK):
        return browser, driver
    why = "headless Chromium is not installed (apt-get install chromium chromium-driver; the test command does it)"
    if os.environ.get("CI") or told == "missing":
        pytest.fail(f"{why}: this browser test cannot run", pytrace=False)
    pytest.skip(why)


@contextmanager
def headless_chrome(*, window_size: str = "1600,1000") -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix="drivenow-chromium-")
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in CI: Chromium's sandbox refuses to run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={window_size}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
