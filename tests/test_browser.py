"""The web app in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium, never a downloaded one)
uses the explorer, goes through a whole study as a rater and reads the results as the organiser, saving screenshots
(to $TEXTVAE_SCREENSHOTS, else the test's folder). Skipped where chromium or Playwright is missing, unless
TEXTVAE_REQUIRE_BROWSER=1 (CI sets it), which turns the skip into a failure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is not installed (apt-get install -y chromium)"
    for module in ("playwright", "fastapi", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install -e '.[dev]')"
    return None


if (why := _missing()) is not None:
    if os.environ.get("TEXTVAE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"browser tests required but {why}")
    pytest.skip(why, allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from webhelpers import serve, train_runs  # noqa: E402

from textvae.study import build_items  # noqa: E402
from textvae.web import create_app  # noqa: E402

SYSTEMS = {"human": [f"people wrote sentence number {i} ." for i in range(10)],
           "model": [f"model made {i} <script>window.hacked = {i}</script>" for i in range(10)]}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    app = create_app(train_runs(tmp), tmp / "eval.sqlite")
    with serve(app) as url:
        yield url, app.state.store


@pytest.fixture(scope="module")
def page():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1100, "height": 900})
        pg.set_default_timeout(30_000)
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("TEXTVAE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_explorer_reconstructs_interpolates_imputes_and_draws_a_canvas(site, page, shots):
    url, _ = site
    page.goto(url)
    page.click("#runs a[href='/runs/vae']")
    expect(page.locator("#run-name")).to_have_text("vae")
    page.fill("#decoding input[name=max_len]", "12")
    page.click("form[data-action=sample] button")
    expect(page.locator("#out-sample li")).to_have_count(5)
    page.fill("#decoding input[name=width]", "")  # a cleared field means the server's default, not 0
    page.locator("#out-sample").evaluate("e => e.replaceChildren()")
    page.click("form[data-action=sample] button")
    expect(page.locator("#out-sample li")).to_have_count(5)
    assert page.locator("#out-sample .error").count() == 0
    form = page.locator("form[data-action=reconstruct]")
    form.locator("input[name=sentence]").fill("the cat sees a <b>dog</b>")
    form.locator("button").click()
    expect(page.locator("#out-reconstruct")).to_contain_text("from the posterior mean")
    expect(page.locator("#out-reconstruct")).to_contain_text("not in the vocabulary")  # <b> read as <unk>, as text
    assert page.locator("#out-reconstruct b").count() == 0
    form = page.locator("form[data-action=interpolate]")
    form.locator("input[name=a]").fill("the cat runs")
    form.locator("input[name=b]").fill("a big dog sleeps")
    form.locator("input[name=steps]").fill("4")
    form.locator("button").click()
    expect(page.locator("#out-interpolate li")).to_have_count(4)
    form = page.locator("form[data-action=impute]")
    form.locator("input[name=sentence]").fill("the ___ sees a ___")
    form.locator("button").click()
    expect(page.locator("#out-impute")).to_contain_text("filled:")
    form.locator("input[name=sentence]").fill("no blank at all")  # the server's one-line message is shown
    form.locator("button").click()
    expect(page.locator("#out-impute .error")).to_contain_text("has no blank (___) to fill")
    page.screenshot(path=str(shots / "explorer.png"), full_page=True)
    page.goto(f"{url}/runs/autr")
    page.locator("form[data-action=canvas] input[name=sentence]").fill("the cat sees")
    page.click("form[data-action=canvas] button")
    expect(page.locator("#out-canvas table.heat tr")).to_have_count(6)  # steps 0..5
    page.screenshot(path=str(shots / "explorer_canvas.png"), full_page=True)


def submit(page, selector: str) -> None:
    """Click a button that posts its form, and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def test_a_rater_goes_through_a_study_and_the_organiser_reads_the_results(site, page, shots):
    url, store = site
    sid = store.create_study("groups", "people vs model", build_items("groups", SYSTEMS, group_size=5), questions=2)
    sid2 = store.create_study("sense", "makes sense?", build_items("sense", SYSTEMS), questions=20)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"{url}/s/{sid}")
    submit(page, "#start")
    answered = 0
    while page.locator("#done").count() == 0:
        expect(page.locator("#question")).to_contain_text("written by people")
        if answered == 0:
            page.screenshot(path=str(shots / "study_question.png"), full_page=True)
        left_is_human = page.locator("#side-1").inner_text().find("people") >= 0
        submit(page, "#left" if left_is_human else "#right")
        answered += 1
    assert answered == 2

    page.goto(f"{url}/s/{sid2}")
    submit(page, "#start")
    seen = set()
    while page.locator("#done").count() == 0:
        text = page.locator("#sentence").inner_text()
        seen.add(text)
        submit(page, "#yes" if text.startswith("people") else "#no")
        if len(seen) == 3:  # stop and come back by the same link: the next question is where the rater left off
            rater = page.url
            page.goto(url)
            page.goto(rater)
            expect(page.locator("#progress")).to_contain_text("Question 4 of 20")
    assert len(seen) == 20 and "model made 3 <script>window.hacked = 3</script>" in seen
    assert dialogs == [] and page.evaluate("window.hacked === undefined")

    token = store.organiser_token
    page.goto(f"{url}/studies/{sid}/results")
    expect(page.locator("#error")).to_contain_text("organiser token")
    page.goto(f"{url}/studies?token={token}")
    page.click(f"a[href^='/studies/{sid}/results']")
    expect(page.locator("#answers")).to_have_text("2")
    row = page.locator("#results tr").nth(1).locator("td")
    assert [row.nth(i).inner_text() for i in range(5)] == ["human", "model", "2", "0", "0"]
    expect(page.locator("#plot")).to_be_visible()
    assert page.evaluate("document.getElementById('plot').naturalWidth") > 100
    page.screenshot(path=str(shots / "study_results.png"), full_page=True)
    page.goto(f"{url}/studies/{sid2}/results?token={token}")
    row = page.locator("#results tr").nth(1).locator("td")
    assert [row.nth(i).inner_text() for i in range(2)] == ["human", "10"]
    assert row.nth(2).inner_text().startswith("1.000")
    with page.expect_download() as download:
        page.click("#csv")
    assert len(Path(download.value.path()).read_text().splitlines()) == 21
    shutil.copy(download.value.path(), shots / "study_answers.csv")


def test_the_organiser_creates_a_study_in_the_browser_and_every_page_fits_a_phone(site, page, shots):
    url, store = site
    page.goto(f"{url}/studies?token={store.organiser_token}")
    assert "token=" not in page.url  # moved to a cookie
    page.fill("#create input[name=name]", "made in the browser")
    page.fill("#create input[name=questions]", "4")
    page.fill("#create input[name=system_1]", "human")
    page.fill("#create textarea[name=sentences_1]", "\n".join(SYSTEMS["human"]))
    page.fill("#create input[name=system_2]", "model")
    page.fill("#create textarea[name=sentences_2]", "\n".join(f"model made {i} ." for i in range(10)))
    submit(page, "#create-study")
    row = page.locator("#studies tr", has_text="made in the browser")
    expect(row).to_have_count(1)
    row.locator("input[name=n]").fill("2")
    submit(page, "#studies tr:has-text('made in the browser') button")
    expect(page.locator("#links li")).to_have_count(2)
    rater = page.locator("#links li").first.inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        for path in ("/", "/studies", rater.split(url)[-1], "/runs/vae"):
            page.goto(url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (path, width)  # nothing wider than the phone's screen
            if path.startswith("/r/"):
                page.screenshot(path=str(shots / "phone_question.png"), full_page=True)
                left, right = page.locator("#left").bounding_box(), page.locator("#right").bounding_box()
                assert right["y"] > left["y"] and left["width"] > 300  # stacked, full width
    finally:
        page.set_viewport_size({"width": 1100, "height": 900})
