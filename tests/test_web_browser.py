"""The web pages as a person uses them, in headless Chromium (Selenium with Debian's chromium and
chromium-driver, which `.ci/run` installs): one browser session for the whole flow.

The province page's screenshots at phone and desktop widths are kept in tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from runtime import open_app
from tests.conftest import make_settings
from tests.test_web import HOUSING, RELIEF, fill
from web.pages import pages_app

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if p), None)
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and DRIVER),
                       reason="no headless browser: apt-get install chromium chromium-driver "
                              "(.ci/run does)"),
]


def _flow(base: str) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900", "--lang=vi"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        driver.get(base + "/")
        assert len(driver.find_elements(By.CSS_SELECTOR, "ul.provinces a")) == 34
        driver.find_element(By.PARTIAL_LINK_TEXT, "Hà Nội").click()
        assert driver.find_element(By.TAG_NAME, "h1").text == "Hà Nội"

        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "province-desktop.png"))
        driver.set_window_size(390, 844)
        driver.save_screenshot(str(ARTIFACTS / "province-phone.png"))
        # Readable on a phone: nothing wider than the screen.
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth")
        driver.set_window_size(1280, 900)

        driver.find_element(By.CSS_SELECTOR, f'nav.topics a[href*="topic={RELIEF}"]').click()
        titles = driver.find_elements(By.CSS_SELECTOR, "ol.items a.title")
        assert [t.text for t in titles] == ["Hỗ trợ người dân vùng lũ quét <script>x</script>"]
        driver.find_element(By.CSS_SELECTOR, "nav.topics a:first-child").click()  # all topics

        box = driver.find_element(By.NAME, "q")
        box.send_keys("ban giao nha dai doan ket")  # typed without diacritics
        box.submit()
        # (a form's submit does not wait for the next page, as a click on a link does: wait for
        # the results, or find_element may read the page being left)
        found = WebDriverWait(driver, 30).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "p.found")))
        assert "60 tin cho" in found.text
        first = driver.find_element(By.CSS_SELECTOR, "ol.items a.title").text
        assert first.startswith("Bàn giao nhà Đại đoàn kết")

        driver.find_element(By.CSS_SELECTOR, 'a[rel="next"]').click()
        assert "Trang 2" in driver.find_element(By.CSS_SELECTOR, "nav.pager").text
        assert "q=ban+giao" in driver.current_url
        assert driver.find_element(By.CSS_SELECTOR, "ol.items a.title").text != first

        driver.find_element(By.PARTIAL_LINK_TEXT, "Báo cáo tuần").click()
        chart = driver.find_element(By.CSS_SELECTOR, "img.chart")
        assert driver.execute_script("return arguments[0].complete && "
                                     "arguments[0].naturalWidth", chart) == 800
        assert HOUSING not in driver.page_source  # names, not slugs
        driver.find_element(By.PARTIAL_LINK_TEXT, "English").click()
        assert "Weekly report" in driver.title
    finally:
        driver.quit()


async def test_a_visit_in_a_real_browser(sqlite_url: str) -> None:
    app = open_app(make_settings(sqlite_url, web_timeout_seconds=60))  # the first chart's import
    await fill(app)
    try:
        async with TestServer(pages_app(app), host="127.0.0.1") as server:
            # Selenium blocks: it runs in a thread while this loop serves the pages.
            await asyncio.to_thread(_flow, str(server.make_url("")).rstrip("/"))
    finally:
        await app.close()
