"""Take the README's TensorBoard screenshots from a running `tensorboard` server.

    apt-get install chromium && pip install playwright   # Debian's Chromium, no browser download
    tensorboard --logdir logs/mnist --port 6006 &
    python docs/screenshots.py http://127.0.0.1:6006 docs/images

Writes `hparams_parallel_coordinates.png` (HParams, parallel coordinates view) and
`custom_scalars_bands.png` (Custom Scalars; needs a batch with seeds).
"""

import pathlib
import sys


def main(url, out):
    from playwright.sync_api import sync_playwright

    out = pathlib.Path(out)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(url + "/#hparams")
        page.wait_for_timeout(6000)
        page.get_by_text("PARALLEL COORDINATES VIEW").click()
        page.wait_for_timeout(4000)
        page.screenshot(path=str(out / "hparams_parallel_coordinates.png"))
        page.goto(url + "/#custom_scalars")
        page.wait_for_timeout(6000)
        page.screenshot(path=str(out / "custom_scalars_bands.png"))
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
