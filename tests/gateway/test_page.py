"""The drawing page in a real headless Chromium, against the real gateway and tritonserver.

`gateway_url` (tests/gateway/conftest.py) is a running gateway in front of Triton serving the
exported default weights. The page is driven with Playwright's mouse and keyboard like a person
would; a few tests intercept /v1/faces with `page.route` to hold or replace one answer (server
down, busy, input rejected, a slow answer overtaken by Clear) and let the rest reach the gateway.
"""

from __future__ import annotations

import base64
import io
import math
import re
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from gateway_process import start_gateway
from PIL import Image, ImageDraw

from sketch2idol.core.contract import LOOK_FIELDS
from sketch2idol.core.looks import as_hex, random_look

try:  # a dependency of `make test`, not an optional one: missing, the page is untested
    from playwright import sync_api
except ImportError as error:
    raise ImportError("the page test needs Playwright: `make setup` installs it (pip install "
                      "playwright==1.65.2, as pinned in requirements.lock)") from error

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
FACES_PATH = "/v1/faces"
LOOKS_PATH = "/v1/looks"
CONFIG_PATH = "/v1/config"
SLIDERS = ["t-master", "t-left_eye", "t-right_eye", "t-nose", "t-mouth", "t-remainder"]
FIRST_FACE_TIMEOUT_MS = 30_000   # the first request may warm the model up
FACE_TIMEOUT_MS = 15_000


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make system-deps` (or `sudo apt-get "
                    "install -y --no-install-recommends chromium`)", pytrace=False)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield b
        b.close()


class Recorder:
    """Every request the page makes, the /v1/faces ones in detail, and every page error."""

    def __init__(self, page, base_url: str):
        self.base_url = base_url
        self.urls: list[str] = []
        self.faces: list = []            # /v1/faces requests, in the order they were sent
        self.finished: list = []         # ... that got a whole answer
        self.failed: list = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    @staticmethod
    def is_faces(request) -> bool:
        return request.url.split("?")[0].endswith(FACES_PATH) and request.method == "POST"

    def _request(self, request):
        self.urls.append(request.url)
        if self.is_faces(request):
            self.faces.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _finished(self, request):
        if self.is_faces(request):
            self.in_flight -= 1
            self.finished.append(request)

    def _failed(self, request):
        if self.is_faces(request):
            self.in_flight -= 1
            self.failed.append(request)

    def _console(self, msg):
        # Deliberate 4xx/5xx answers (intercepted ones) log "Failed to load resource".
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            self.errors.append(f"console: {msg.text}")

    def wait_idle(self, page, quiet_ms: int = 700, timeout_s: float = 20.0):
        """Until no /v1/faces request is out and none started for `quiet_ms` (> the debounce)."""
        deadline = time.monotonic() + timeout_s
        seen, since = len(self.faces), time.monotonic()
        while time.monotonic() < deadline:
            page.wait_for_timeout(100)
            if len(self.faces) != seen or self.in_flight:
                seen, since = len(self.faces), time.monotonic()
            elif (time.monotonic() - since) * 1000 >= quiet_ms:
                return
        raise AssertionError(f"/v1/faces never went quiet ({len(self.faces)} sent, "
                             f"{self.in_flight} out)")

    def assert_one_at_a_time(self):
        """No two /v1/faces requests overlapped, by the browser's own network timings."""
        spans = []
        for r in self.finished:
            t = r.timing
            if t["startTime"] <= 0 or t["responseEnd"] < 0:
                continue                 # answered by page.route: no network timings
            start, end = t["startTime"], t["startTime"] + t["responseEnd"]
            spans.append((start, end, r.url))
        spans.sort()
        for (s0, e0, _), (s1, _, _) in zip(spans, spans[1:]):
            assert s1 >= e0 - 5, f"two /v1/faces requests overlapped: [{s0}, {e0}] and {s1}"
        assert self.max_in_flight <= 1, (
            f"{self.max_in_flight} /v1/faces requests were in flight at once (by events)")

    def assert_local_only(self):
        outside = [u for u in self.urls
                   if not (u.startswith(self.base_url) or u.startswith(("data:", "blob:")))]
        assert not outside, f"the page loaded URLs outside the gateway: {outside}"


@pytest.fixture
def page(browser, gateway_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=gateway_url)
    page = context.new_page()
    page.set_default_timeout(FACE_TIMEOUT_MS)
    page.rec = Recorder(page, gateway_url)
    page.add_init_script(RECORD_FORMS)
    page.goto("/")
    page.wait_for_selector("html[data-ready='true']")
    yield page
    context.close()


# ---- helpers ---------------------------------------------------------------------------------

def stroke(page, points):
    """One pen stroke through `points`, given in [0, 1] canvas coordinates."""
    box = page.locator("#sketch").bounding_box()
    xy = [(box["x"] + u * box["width"], box["y"] + v * box["height"]) for u, v in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=2)
    page.mouse.up()


def ellipse(cx, cy, rx, ry, n=28, start=0.0, end=2 * math.pi):
    return [(cx + rx * math.cos(start + (end - start) * i / n),
             cy + ry * math.sin(start + (end - start) * i / n)) for i in range(n + 1)]


def draw_face(page):
    stroke(page, ellipse(0.5, 0.52, 0.30, 0.40))                      # head outline
    stroke(page, ellipse(0.38, 0.42, 0.06, 0.025, n=14))               # left eye
    stroke(page, ellipse(0.62, 0.42, 0.06, 0.025, n=14))               # right eye
    stroke(page, [(0.5, 0.45), (0.47, 0.58), (0.53, 0.59)])           # nose
    stroke(page, ellipse(0.5, 0.66, 0.10, 0.05, n=12, start=0.15 * math.pi,
                         end=0.85 * math.pi))                          # mouth


def src(page, selector) -> str:
    return page.eval_on_selector(selector, "el => el.getAttribute('src') || ''")


def wait_for_src(page, selector, other_than: str = "", timeout=FACE_TIMEOUT_MS):
    page.wait_for_function(
        """([sel, old]) => {
             const s = document.querySelector(sel).getAttribute('src') || '';
             return s.startsWith('data:image/png;base64,') && s !== old;
           }""", arg=[selector, other_than], timeout=timeout)
    return src(page, selector)


def canvas_is_blank(page) -> bool:
    return page.evaluate("""() => {
        const c = document.getElementById('sketch');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 24) return false;
        return true;
    }""")


# Chromium does not report the body of a FormData request that carries a Blob, so what the page
# sends is read on the page: fetch is wrapped (before the page's scripts run) to keep a copy of
# every /v1/faces form.
RECORD_FORMS = """
(() => {
  const realFetch = window.fetch;
  window.__faceForms = [];
  window.__faceReads = [];
  const b64 = (buf) => {
    const bytes = new Uint8Array(buf);
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  };
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : (input && input.url) || "";
    if (url.includes("/v1/faces") && init && init.body instanceof FormData) {
      const form = {};
      for (const [key, value] of init.body.entries()) {
        if (value instanceof Blob) {
          window.__faceReads.push(value.arrayBuffer().then((buf) => { form[key] = b64(buf); }));
        } else {
          form[key] = key in form ? `${form[key]},${value}` : String(value);
        }
      }
      window.__faceForms.push(form);
    }
    return realFetch.apply(this, arguments);
  };
})();
"""


def sent_forms(page) -> list[dict]:
    """Every /v1/faces form the page sent, in order (`sketch` as PNG bytes)."""
    forms = page.evaluate(
        "async () => { await Promise.all(window.__faceReads); return window.__faceForms; }")
    for form in forms:
        if "sketch" in form:
            form["sketch"] = base64.b64decode(form["sketch"])
    return forms


def decode_data_url(data_url: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def canvas_on_white(page) -> np.ndarray:
    """The drawing as the page would send it now (strokes flattened onto white), RGB."""
    url = page.evaluate("""() => {
        const c = document.getElementById('sketch');
        const o = document.createElement('canvas');
        o.width = c.width; o.height = c.height;
        const x = o.getContext('2d');
        x.fillStyle = '#fff'; x.fillRect(0, 0, o.width, o.height); x.drawImage(c, 0, 0);
        return o.toDataURL('image/png');
    }""")
    return np.asarray(decode_data_url(url).convert("RGB"))


def save_screenshot(page, tmp_path, name="page.png") -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    return shot


# ---- tests -----------------------------------------------------------------------------------

def test_page_is_self_contained_labelled_and_idle_when_empty(page):
    # Every slider is a real range input reachable by its label.
    for label, sid in [("All parts", "t-master"), ("Left eye", "t-left_eye"),
                       ("Right eye", "t-right_eye"), ("Nose", "t-nose"), ("Mouth", "t-mouth"),
                       ("Remainder", "t-remainder")]:
        control = page.get_by_label(label, exact=True)
        assert control.get_attribute("id") == sid
        assert control.get_attribute("type") == "range"
    for name in ["Pen", "Eraser", "Undo", "Redo", "Clear", "Load file…"]:
        assert page.get_by_role("button", name=name, exact=True).count() == 1
    assert page.locator("#guide-toggle").is_checked()
    assert page.locator("#status").get_attribute("role") == "status"
    assert page.locator("#download").get_attribute("aria-disabled") == "true"
    assert page.locator("#sketch").evaluate("c => getComputedStyle(c).touchAction") == "none"

    # The master slider moves all five; a component slider moves only itself (no drawing yet,
    # so nothing may be sent).
    page.focus("#t-master")
    page.keyboard.press("End")
    assert [page.input_value(f"#{s}") for s in SLIDERS] == ["1"] * 6
    page.fill("#t-mouth", "0.3")
    assert page.input_value("#t-mouth") == "0.3"
    assert page.input_value("#t-nose") == "1"
    assert page.locator("output[for='t-mouth']").inner_text() == "0.30"
    page.wait_for_timeout(600)
    assert page.rec.faces == [], "the page sent a request for an empty canvas"
    page.rec.assert_local_only()
    assert page.rec.errors == []


def test_drawing_updates_face_refined_and_guide_one_request_at_a_time(page, tmp_path):
    rec = page.rec
    draw_face(page)
    face = wait_for_src(page, "#face", timeout=FIRST_FACE_TIMEOUT_MS)
    rec.wait_idle(page)
    face = src(page, "#face")
    assert src(page, "#refined").startswith("data:image/png;base64,")
    assert "Face ready in" in page.inner_text("#status")
    assert page.get_attribute("#download", "href") == face
    assert page.get_attribute("#download", "aria-disabled") is None

    # The shadow guide: an image, shown faintly beneath the (transparent) drawing canvas.
    guide = src(page, "#guide")
    assert guide.startswith("data:image/png;base64,"), "the gateway sent no guide image"
    assert page.locator("#guide").is_visible()
    opacity = float(page.locator("#guide").evaluate("g => getComputedStyle(g).opacity"))
    assert 0 < opacity < 0.5
    assert decode_data_url(guide).size == decode_data_url(face).size

    # What was sent: the strokes only, black on white, as PNG, asking for refined + guide.
    forms = sent_forms(page)
    assert len(forms) == len(rec.faces)
    last = forms[-1]
    assert set(last["include"].split(",")) == {"refined", "guide"}
    sketch = np.asarray(Image.open(io.BytesIO(last["sketch"])).convert("RGB")).astype(int)
    assert last["sketch"].startswith(b"\x89PNG")
    assert (sketch[..., 0] == sketch[..., 1]).all() and (sketch[..., 1] == sketch[..., 2]).all()
    assert (sketch[:8, :8] == 255).all(), "the sketch must be on white"
    assert (sketch < 64).any(), "the sketch must contain the drawn strokes"
    assert 0.002 < (sketch[..., 0] < 128).mean() < 0.2
    assert float(last["t"]) == pytest.approx(0.5)
    # Latest wins: the last request carried the drawing exactly as it is on screen now.
    assert (np.asarray(Image.open(io.BytesIO(last["sketch"])).convert("RGB"))
            == canvas_on_white(page)).all()

    # The master slider from the keyboard: all five follow, and a new face arrives for t = 0.
    page.focus("#t-master")
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    assert [page.input_value(f"#{s}") for s in SLIDERS] == ["0"] * 6
    assert page.locator("output[for='t-master']").inner_text() == "0.00"
    sent_before = len(rec.faces)
    new_face = wait_for_src(page, "#face", other_than=face)
    rec.wait_idle(page)
    after = sent_forms(page)[sent_before:]
    assert after, "moving the slider sent nothing"
    assert len(after) <= 3, f"slider presses were not debounced: {len(after)} requests"
    assert float(after[-1]["t"]) == 0 and all(float(after[-1][f"t_{c}"]) == 0 for c in
                                             ["left_eye", "right_eye", "nose", "mouth",
                                              "remainder"])
    assert new_face != face

    # One component: only its own field changes.
    sent_before = len(rec.faces)
    page.fill("#t-nose", "0.8")
    rec.wait_idle(page)
    fields = sent_forms(page)[-1]
    assert len(rec.faces) > sent_before
    assert float(fields["t_nose"]) == pytest.approx(0.8)
    assert float(fields["t_mouth"]) == 0 and float(fields["t"]) == 0

    # Turning the guide off hides it and stops asking for it.
    page.uncheck("#guide-toggle")
    assert not page.locator("#guide").is_visible()
    stroke(page, [(0.40, 0.30), (0.45, 0.28), (0.50, 0.29)])        # a brow
    page.wait_for_timeout(300)
    rec.wait_idle(page)
    assert "guide" not in sent_forms(page)[-1]["include"].split(",")
    page.check("#guide-toggle")
    rec.wait_idle(page)
    assert page.locator("#guide").is_visible()

    rec.assert_one_at_a_time()
    rec.assert_local_only()
    assert rec.failed == []
    assert rec.errors == []
    shot = save_screenshot(page, tmp_path)
    assert shot.stat().st_size > 10_000


def test_undo_redo_clear_and_a_late_answer_after_clear_is_dropped(page):
    rec = page.rec
    stroke(page, ellipse(0.5, 0.5, 0.3, 0.4))
    stroke(page, ellipse(0.4, 0.42, 0.05, 0.02, n=10))
    wait_for_src(page, "#face", timeout=FIRST_FACE_TIMEOUT_MS)
    rec.wait_idle(page)
    assert page.is_enabled("#undo") and not page.is_enabled("#redo")

    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert canvas_is_blank(page)
    assert src(page, "#face") == "" and src(page, "#refined") == ""
    assert page.get_attribute("#download", "aria-disabled") == "true"
    page.keyboard.press("Control+Shift+z")
    assert not canvas_is_blank(page)
    page.keyboard.press("Control+y")
    wait_for_src(page, "#face")
    rec.wait_idle(page)

    # Hold the next answer, clear the canvas while it is out, then let it through: the face
    # made for the old drawing must not come back.
    held = []
    page.route(f"**{FACES_PATH}", lambda route: held.append(route))
    stroke(page, [(0.45, 0.7), (0.55, 0.7)])
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "no request went out after the stroke"
    page.click("#clear")
    assert canvas_is_blank(page) and src(page, "#face") == ""
    held[0].continue_()
    page.unroute(f"**{FACES_PATH}")
    rec.wait_idle(page)
    assert src(page, "#face") == ""
    assert page.inner_text("#status") == "Draw a face to begin."
    assert len(held) == 1
    rec.assert_one_at_a_time()
    assert rec.errors == []


def test_down_busy_and_rejected_answers_are_explained_and_retried(page):
    rec = page.rec
    scripted = [
        (0, None, None),                 # the gateway unreachable: a network error
        (503, {"error": "model_unavailable", "detail": "Triton is not ready."}, "1"),
        (429, {"error": "busy", "detail": "Too many requests at once."}, "1"),
    ]
    statuses: list[str] = []

    def answer(route):
        if scripted:
            code, body, retry = scripted.pop(0)
            if code == 0:
                route.abort("connectionrefused")
                return
            route.fulfill(status=code, json=body, headers={"Retry-After": retry})
        else:
            route.continue_()

    page.route(f"**{FACES_PATH}", answer)
    stroke(page, ellipse(0.5, 0.5, 0.3, 0.4))
    page.wait_for_function("document.getElementById('status').textContent.includes('down')")
    statuses.append(page.inner_text("#status"))
    page.wait_for_function("document.getElementById('status').textContent.endsWith('in 1s')")
    statuses.append(page.inner_text("#status"))
    page.wait_for_function("document.getElementById('status').textContent.includes('busy')")
    statuses.append(page.inner_text("#status"))
    # No edit in between: the page retried by itself, and the real gateway answered.
    wait_for_src(page, "#face", timeout=FIRST_FACE_TIMEOUT_MS)
    assert re.fullmatch(r"The model server is starting or down — retrying in [12]s", statuses[0])
    assert statuses[1] == "The model server is starting or down — retrying in 1s"
    assert statuses[2] == "The server is busy — retrying in 1s"
    assert len(rec.failed) == 1
    rec.wait_idle(page)
    face = src(page, "#face")

    # An input the gateway rejects: its detail is shown, the last face stays, no retry.
    page.unroute(f"**{FACES_PATH}")
    page.route(f"**{FACES_PATH}", lambda route: route.fulfill(
        status=422, json={"error": "bad_field", "detail": "t must lie in [0, 1]."}))
    sent = len(rec.faces)
    stroke(page, [(0.4, 0.4), (0.45, 0.42)])
    page.wait_for_function("document.getElementById('status').textContent.includes('rejected')")
    assert page.inner_text("#status") == "The sketch was rejected: t must lie in [0, 1]."
    page.wait_for_timeout(1500)
    assert len(rec.faces) == sent + 1, "a rejected request must not be retried by itself"
    assert src(page, "#face") == face
    rec.assert_one_at_a_time()
    assert rec.errors == []


def test_loading_a_sketch_file_fits_it_on_the_canvas_and_generates(page, tmp_path):
    # A wide scan: dark ink on off-white, to be fitted and centred on the square canvas.
    scan = Image.new("RGB", (600, 400), (245, 245, 240))
    draw = ImageDraw.Draw(scan)
    draw.ellipse((200, 40, 400, 360), outline=(20, 20, 20), width=6)
    draw.ellipse((250, 150, 290, 170), outline=(20, 20, 20), width=4)
    draw.ellipse((310, 150, 350, 170), outline=(20, 20, 20), width=4)
    draw.arc((260, 230, 340, 290), 20, 160, fill=(20, 20, 20), width=4)
    path = tmp_path / "scan.png"
    scan.save(path)

    page.set_input_files("#load-file", str(path))
    wait_for_src(page, "#face", timeout=FIRST_FACE_TIMEOUT_MS)
    page.rec.wait_idle(page)
    sent = np.asarray(Image.open(io.BytesIO(sent_forms(page)[-1]["sketch"])).convert("L"))
    assert sent.shape == (512, 512)
    rows, cols = np.nonzero(sent < 128)
    # 600x400 scaled by 512/600: the oval spans x 171-341, y 119-393 (letterboxed vertically).
    assert abs((cols.min() + cols.max()) / 2 - 256) < 6
    assert abs((rows.min() + rows.max()) / 2 - 256) < 6
    assert 260 < rows.max() - rows.min() < 290
    assert sent[:40].min() > 200, "the letterbox must be white"
    assert page.is_enabled("#undo")
    page.click("#undo")
    assert canvas_is_blank(page)
    assert page.rec.errors == []


# ---- looks -----------------------------------------------------------------------------------

def wait_for_looks(page):
    page.wait_for_selector("#look-choices[data-loaded='true']")


def pressed_looks(page) -> list[str]:
    return page.eval_on_selector_all(
        "button.look-choice[aria-pressed='true']", "bs => bs.map(b => b.dataset.look)")


def swatches(page) -> dict[str, str]:
    """The swatches shown: field -> #rrggbb ('' where the colour is not known yet)."""
    return dict(page.eval_on_selector_all(
        "#look-swatches li", "ls => ls.map(l => [l.dataset.field, l.dataset.colour || ''])"))


def answer_after(page, sent_before: int) -> dict:
    """The JSON answer to the last /v1/faces request sent after `sent_before`, once the page
    has gone quiet (that answer is on screen: the latest drawing wins)."""
    rec = page.rec
    deadline = time.monotonic() + FACE_TIMEOUT_MS / 1000
    while len(rec.faces) <= sent_before and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(rec.faces) > sent_before, "the look change sent no request"
    rec.wait_idle(page)
    response = rec.faces[-1].response()
    assert response is not None and response.status == 200
    return response.json()


def test_the_look_picker_and_shuffle_repaint_the_face(page, gateway_url, tmp_path):
    rec = page.rec
    wait_for_looks(page)
    catalogue = httpx.get(f"{gateway_url}{LOOKS_PATH}", timeout=10).json()
    named = {look["name"]: {f: look[f] for f in LOOK_FIELDS} for look in catalogue["looks"]}
    buttons = page.eval_on_selector_all("button.look-choice", "bs => bs.map(b => b.dataset.look)")
    assert buttons == list(named)
    assert page.get_by_role("button", name="Shuffle", exact=True).count() == 1
    # Before anything is drawn: the default look, its colours, and nothing sent.
    assert pressed_looks(page) == [catalogue["default"]]
    assert swatches(page) == named[catalogue["default"]]
    assert page.inner_text("#look-caption") == f"Look: {catalogue['default']}"

    draw_face(page)
    wait_for_src(page, "#face", timeout=FIRST_FACE_TIMEOUT_MS)
    rec.wait_idle(page)
    assert sent_forms(page)[-1]["look"] == catalogue["default"]
    assert "seed" not in sent_forms(page)[-1]

    # A named look: pressed at once, its colours at once, then a face painted in it.
    sent_before = len(rec.faces)
    page.get_by_role("button", name="ocean", exact=True).click()
    assert pressed_looks(page) == ["ocean"]
    assert swatches(page) == named["ocean"]
    body = answer_after(page, sent_before)
    form = sent_forms(page)[-1]
    assert form["look"] == "ocean" and "seed" not in form
    assert body["look"] == {"name": "ocean", "seed": None, **named["ocean"]}
    assert src(page, "#face") == f"data:image/png;base64,{body['face']}"
    assert page.get_attribute("#download", "href") == src(page, "#face")

    # Shuffle: a random look with a new seed; its colours come with the face.
    seeds = []
    for _ in range(2):
        sent_before = len(rec.faces)
        page.click("#look-shuffle")
        assert pressed_looks(page) == []
        seed = int(page.get_attribute("#look-caption", "data-seed"))
        assert 0 <= seed < 2**31
        body = answer_after(page, sent_before)
        form = sent_forms(page)[-1]
        assert (form["look"], int(form["seed"])) == (catalogue["random"], seed)
        assert body["look"] == {"name": "random", "seed": seed, **as_hex(random_look(seed))}
        assert swatches(page) == as_hex(random_look(seed))
        assert page.inner_text("#look-caption") == f"Shuffled look, seed {seed}"
        assert src(page, "#face") == f"data:image/png;base64,{body['face']}"
        seeds.append(seed)
    assert seeds[0] != seeds[1], "shuffle drew the same seed twice"

    # Back to a named look from the keyboard; the picker is a row of ordinary buttons.
    sent_before = len(rec.faces)
    page.focus("button.look-choice[data-look='sunset']")
    page.keyboard.press("Enter")
    body = answer_after(page, sent_before)
    assert body["look"]["name"] == "sunset"
    assert pressed_looks(page) == ["sunset"] and swatches(page) == named["sunset"]
    assert src(page, "#face") == f"data:image/png;base64,{body['face']}"

    rec.assert_one_at_a_time()
    rec.assert_local_only()
    assert rec.failed == [] and rec.errors == []
    page.mouse.move(5, 5)  # no hover or focus ring in the picture
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(300)  # button colour transitions
    shot = save_screenshot(page, tmp_path, "page_looks.png")
    assert shot.stat().st_size > 10_000


def test_the_picker_shows_the_looks_the_gateway_lists_and_retries_until_it_can(browser,
                                                                             gateway_url):
    """The looks are the gateway's, not the page's: a different list (in GET /v1/config,
    which sets up the whole page in one request) is a different picker; a failed GET
    /v1/config is retried, and the page never asks GET /v1/looks."""
    config = httpx.get(f"{gateway_url}{CONFIG_PATH}", timeout=10).json()
    real = config["looks"]
    assert real == httpx.get(f"{gateway_url}{LOOKS_PATH}", timeout=10).json()
    by_name = {look["name"]: look for look in real["looks"]}
    listed = {**config, "looks": {**real, "default": "night",
                                  "looks": [by_name["night"], by_name["sunset"]]}}
    answers = [(503, {"error": "model_unavailable", "detail": "not yet"}), (200, listed)]
    context = browser.new_context(base_url=gateway_url)
    try:
        page = context.new_page()
        asked_looks = []
        page.on("request", lambda request: asked_looks.append(request.url)
                if request.url.endswith(LOOKS_PATH) else None)
        page.route(f"**{CONFIG_PATH}", lambda route: route.fulfill(
            status=answers[0][0], json=answers.pop(0)[1]))
        page.goto("/")
        page.wait_for_function(
            "document.getElementById('look-loading')?.textContent.includes('retrying')")
        assert page.is_disabled("#look-shuffle")
        wait_for_looks(page)
        assert answers == []
        assert page.eval_on_selector_all(
            "button.look-choice", "bs => bs.map(b => b.dataset.look)") == ["night", "sunset"]
        assert pressed_looks(page) == ["night"]
        assert swatches(page) == {f: by_name["night"][f] for f in LOOK_FIELDS}
        assert page.is_enabled("#look-shuffle")
        assert asked_looks == []
    finally:
        context.close()


# ---- the blend sliders -----------------------------------------------------------------------

def test_the_sliders_are_the_gateways_components_and_default_t(browser, triton_server,
                                                               exported_repository, tmp_path):
    """The components, the default t (S2I_DEFAULT_T), its range and step are the gateway's
    (GET /v1/config), not the page's: a gateway with another default gives sliders at it,
    and faces asked for at it. A failed GET /v1/config is retried."""
    repository, _ = exported_repository
    gateway, url = start_gateway(triton_server.grpc_address, repository,
                                 tmp_path / "gateway.log", env={"S2I_DEFAULT_T": "0.37"})
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=url)
    try:
        config = httpx.get(f"{url}{CONFIG_PATH}", timeout=10).json()
        t = config["t"]
        assert (t["default"], t["step"]) == (0.37, 0.01)  # 0.37 is not on a 0.05 slider
        page = context.new_page()
        page.set_default_timeout(FACE_TIMEOUT_MS)
        page.rec = Recorder(page, url)
        page.add_init_script(RECORD_FORMS)
        refusals = [{"error": "model_unavailable", "detail": "not yet"}]
        page.route(f"**{CONFIG_PATH}", lambda route: route.fulfill(
            status=503, json=refusals.pop()) if refusals else route.continue_())
        page.goto("/")
        page.wait_for_function(
            "document.getElementById('blend-loading')?.textContent.includes('retrying')")
        assert page.is_disabled("#t-master")
        page.wait_for_selector("html[data-ready='true']")
        assert refusals == []

        sliders = page.eval_on_selector_all("input.component", "is => is.map(i => i.id)")
        assert sliders == [f"t-{name}" for name in config["components"]]
        for label, sid in [("All parts", "t-master"), ("Left eye", "t-left_eye"),
                           ("Remainder", "t-remainder")]:
            assert page.get_by_label(label, exact=True).get_attribute("id") == sid
        for sid in ["t-master", *sliders]:
            slider = page.locator(f"#{sid}")
            assert [slider.get_attribute(a) for a in ("min", "max", "step")] == [
                f"{t[key]:g}" for key in ("minimum", "maximum", "step")], sid
            assert page.input_value(f"#{sid}") == "0.37", sid
            assert page.locator(f"output[for='{sid}']").inner_text() == "0.37", sid

        draw_face(page)
        wait_for_src(page, "#face", timeout=FIRST_FACE_TIMEOUT_MS)
        page.rec.wait_idle(page)
        form = sent_forms(page)[-1]
        assert [float(form[field]) for field in ("t", *(f"t_{c}" for c in config["components"]))
                ] == [0.37] * (1 + len(config["components"]))
        assert page.rec.errors == []
    finally:
        context.close()
        gateway.stop()
