"""The screenshots of docs/web.md: `textvae web` serving the README's demo run (runs/quick, Yelp) and a groups study
of its prior samples against real Yelp sentences, driven in Debian's chromium by Playwright.

    python docs/make_web_screenshots.py [--run runs/quick]

Writes docs/web_explorer.png, docs/web_question.png, docs/web_results.png, docs/web_studies.png (the organiser's
page with its study form) and docs/web_phone.png (a question on a 390 px phone screen)."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from webhelpers import serve  # noqa: E402

from textvae import session as sessions  # noqa: E402
from textvae.decoding import DecodeOptions  # noqa: E402
from textvae.study import build_items  # noqa: E402
from textvae.web import create_app  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=ROOT / "runs" / "quick")
    args = ap.parse_args()
    s = sessions.open_run(args.run, "cpu")
    model = sessions.sample(s, 40, DecodeOptions(method="sample", temperature=0.8, seed=1), seed=1)["sentences"]
    human = random.Random(0).sample(s.split_lines("test"), 40)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        (runs / "quick").symlink_to(args.run.resolve(), target_is_directory=True)
        app = create_app(runs, Path(tmp) / "eval.sqlite")
        store = app.state.store
        sid = store.create_study("groups", "quick VAE samples vs Yelp sentences",
                                 build_items("groups", {"yelp": human, "quick_vae": model}), questions=8)
        with serve(app) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(f"{url}/runs/quick")
            page.fill("form[data-action=reconstruct] input[name=sentence]", "the pizza was cold and the staff rude .")
            page.click("form[data-action=reconstruct] button")
            page.fill("form[data-action=interpolate] input[name=a]", "the food was great !")
            page.fill("form[data-action=interpolate] input[name=b]", "i will never come back .")
            page.click("form[data-action=interpolate] button")
            page.fill("form[data-action=impute] input[name=sentence]", "the ___ was great and the staff was ___ .")
            page.click("form[data-action=impute] button")
            page.select_option("form[data-action=attribute] select[name=from_label]", "neg")
            page.select_option("form[data-action=attribute] select[name=to_label]", "pos")
            page.fill("form[data-action=attribute] textarea[name=apply]",
                      "the food was cold and the service slow .\nworst pizza i have ever had .")
            page.click("form[data-action=attribute] button")
            for out in ("reconstruct", "interpolate", "impute", "attribute"):
                expect(page.locator(f"#out-{out} p, #out-{out} li").first).not_to_have_text("working...")
            page.screenshot(path=str(ROOT / "docs" / "web_explorer.png"), full_page=True)
            page.goto(f"{url}/s/{sid}")
            with page.expect_navigation():
                page.click("#start")
            page.screenshot(path=str(ROOT / "docs" / "web_question.png"))
            for _ in range(8):
                human_left = any(x in human for x in page.locator("#side-1 li").all_inner_texts())
                with page.expect_navigation():
                    page.click("#left" if human_left else "#right")
            expect(page.locator("#done")).to_be_visible()
            page.goto(f"{url}/studies/{sid}/results?token={store.organiser_token}")
            expect(page.locator("#plot")).to_be_visible()
            page.screenshot(path=str(ROOT / "docs" / "web_results.png"), full_page=True)
            page.goto(f"{url}/studies")
            page.screenshot(path=str(ROOT / "docs" / "web_studies.png"), full_page=True)
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(f"{url}/s/{sid}")
            with phone.expect_navigation():
                phone.click("#start")
            phone.screenshot(path=str(ROOT / "docs" / "web_phone.png"), full_page=True)
            browser.close()
    print("wrote docs/web_explorer.png, docs/web_question.png, docs/web_results.png, docs/web_studies.png, "
          "docs/web_phone.png", file=sys.stderr)


if __name__ == "__main__":
    main()
