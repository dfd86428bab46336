"""What a learner sees: the classroom app (Voilà) and JupyterLab, driven in a real headless Chromium.

nbval runs cells but never moves a slider; these tests do. They start the servers on free loopback
ports, drive them with Playwright, compare what the page shows with ``analytic_cost``, and stop the
servers afterwards, also on failure. Without Chromium or Playwright they skip (never fail for that).

Redraw latency is printed, not asserted (a shared CI machine is too noisy for a timing test); run
``pytest -s tests/test_browser.py`` to read it. The sliders update while they are dragged, so a
change counts as shown when the page shows the state of the controls as they were left: the
numbers equal to ``scaling_state``'s, and the figure's class naming that state (``shows_class``).
Each delay is printed by two clocks: the page's (from the input event that set the state to the
first animation frame that shows it: what a learner waits for) and the test's (which adds Playwright's
round trips to the browser). Screenshots go to ``test-artifacts/`` (or ``$EFFNET_LAB_ARTIFACTS``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import effnet_lab as el
from effnet_lab.lessons.explorers import shows_class
from effnet_lab.lessons.states import objective_state, scaling_state

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("EFFNET_LAB_ARTIFACTS", ROOT / "test-artifacts"))
# Chromium offline: no first-run, sync, update or background traffic that would wait for a network.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (Debian: apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """A server process in its own process group, stopped (group and all) by ``stop``."""

    def __init__(self, args: list[str], port: int, path: str, log: Path) -> None:
        self.port, self.url, self.log = port, f"http://127.0.0.1:{port}{path}", log
        env = {**os.environ, "MPLBACKEND": "Agg", "EFFNET_LAB_QUICK": "1", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"{self.url} did not answer in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # Jupyter servers shut their kernels down on SIGTERM
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        try:  # the group may still hold a kernel
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


@contextlib.contextmanager
def serving(args: list[str], path: str, log: Path):
    """A server on a free loopback port for the duration of the block; nothing left listening after."""
    port = free_port()
    server = Server([*args, f"--port={port}"], port, path, log)
    try:
        server.wait()
        yield server
    finally:
        server.stop()
    assert not listening(port), f"{args[2]} still listens on port {port}"


@pytest.fixture(scope="module")
def voila_app(tmp_path_factory):
    with serving([sys.executable, "-m", "voila", "--no-browser", "--Voila.ip=127.0.0.1", "app/explorer.ipynb"],
                 "/", tmp_path_factory.mktemp("voila") / "voila.log") as server:
        yield server


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("lab")
    # every cell in the DOM (JupyterLab 4 otherwise skips rendering cells scrolled out of view)
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    # a copy of the lessons, so nothing the browser does (autosave, RISE) can touch the repository's files
    lessons = shutil.copytree(ROOT / "notebooks", home / "notebooks")
    with serving([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                  "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
                  f"--ServerApp.root_dir={lessons}", "--allow-root", f"--LabApp.workspaces_dir={home}",
                  f"--LabApp.user_settings_dir={home / 'settings'}", "--ServerApp.disable_check_xsrf=True"],
                 "/lab", home / "lab.log") as server:
        yield server


# ---------------------------------------------------------------------------------------------
# Reading and moving the explorer
# ---------------------------------------------------------------------------------------------


def headline(page) -> str:
    return page.inner_text(".effnet-headline").strip()


def readout(page, selector: str) -> float:
    # a slider's readout (two decimals, as every slider's step is 0.01 or 0.05; aria-valuenow is
    # rounded further); ipywidgets writes negative numbers with a true minus sign
    return float(page.text_content(f"{selector} .widget-readout").strip().replace("\u2212", "-"))


def slider_value(page, name: str) -> float:
    return readout(page, f".effnet-{name}")


def expected_text(state) -> str:
    lines = state.headline.split("\n") + [f"exactly {state.macs:,} MACs and {state.params:,} parameters"]
    return "\n".join(lines)


def normalise(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


def current_state(page):
    """The state of the controls as they stand (the toggle's pressed button, the sliders' readouts)."""
    pressed = page.locator(".effnet-mode button.mod-active").inner_text()
    mode = "published" if "published" in pressed else "formula"
    return scaling_state(*(slider_value(page, n) for n in ("alpha", "beta", "gamma", "phi")), mode=mode)


def assert_shows_analytic_cost(page) -> None:
    state = current_state(page)
    assert normalise(headline(page)) == normalise(expected_text(state))
    cost = el.analytic_cost(state.config)
    assert f"exactly {cost.macs:,} MACs and {cost.params:,} parameters" in headline(page)


def drag_slider(page, name: str, fraction: float) -> None:
    """Drag a slider's handle with the mouse to ``fraction`` (0..1) of its track."""
    track = page.locator(f".effnet-{name} .noUi-base").bounding_box()
    handle = page.locator(f".effnet-{name} .noUi-handle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], track["y"] + track["height"] / 2, steps=8)
    page.mouse.up()


def type_value(page, name: str, text: str) -> None:
    readout = page.locator(f".effnet-{name} .widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def wait_for_numbers(page, state, start: float, timeout: float = 30_000) -> float:
    """Seconds from ``start`` until the headline shows ``state``'s numbers."""
    page.wait_for_function("([sel, text]) => { const e = document.querySelector(sel); "
                           "return e && e.innerText.replace(/[ \\t]+/g, ' ').trim() === text; }",
                           arg=[".effnet-headline", normalise(expected_text(state))], timeout=timeout)
    return time.perf_counter() - start


def image_src(page) -> str:
    return page.get_attribute(".effnet-dashboard", "src") or ""


def wait_for_image(page, state, start: float, timeout: float = 30_000) -> float:
    """Seconds from ``start`` until the dashboard shows ``state`` (its class names the state it shows)."""
    shows = shows_class(state.headline.split("\n")[0])
    page.wait_for_function("([sel, shows]) => { const e = document.querySelector(sel); "
                           "return e && e.classList.contains(shows) && e.complete; }",
                           arg=[".effnet-dashboard", shows], timeout=timeout)
    return time.perf_counter() - start


def dashboard_png(page) -> bytes:
    return page.locator(".effnet-dashboard").screenshot()


def assert_no_error_output(page) -> None:
    text = page.inner_text("body")
    assert "Traceback" not in text, text[:2000]
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0


# The page's own clock: the time of every input event (a mouse move or release, a key, a click)
# and of the first animation frame after the headline changed or the dashboard finished loading a
# new picture. What a learner waits for is the span from the input that set a state to the frame
# that shows it; the test's own clock (below) adds Playwright's round trips to the browser.
PAGE_CLOCK = """() => {
  const w = window;
  w.__effnet = {input: [], numbers: [], figure: []};
  if (w.__effnetClock) return;
  w.__effnetClock = true;
  const frame = (list, what) => requestAnimationFrame(() => w.__effnet[list].push([performance.now(), what()]));
  for (const type of ['mousemove', 'mouseup', 'keydown', 'click'])
    document.addEventListener(type, () => { w.__effnet.input.push(performance.now()); }, true);
  const headline = document.querySelector('.effnet-headline');
  new MutationObserver(() => frame('numbers', () => headline.innerText.replace(/[ \\t]+/g, ' ').trim()))
    .observe(headline, {childList: true, subtree: true, characterData: true});
  const image = document.querySelector('.effnet-dashboard');
  image.addEventListener('load', () => frame('figure', () => image.className));
}"""


def page_latencies(page, state) -> tuple[float, float]:
    """Seconds, by the page's clock, from the input event that set ``state`` (the last one before its
    numbers appeared: a drag's last move, not the release after it) to the first frames showing its
    numbers and its figure."""
    text, shows = normalise(expected_text(state)), shows_class(state.headline.split("\n")[0])
    # the page notes a frame in the animation-frame callback after the change: wait for that note
    page.wait_for_function("([text, shows]) => window.__effnet.numbers.some(([t, s]) => s === text) && "
                           "window.__effnet.figure.some(([t, c]) => c.split(' ').includes(shows))",
                           arg=[text, shows], timeout=30_000)
    clock = page.evaluate("() => window.__effnet")
    numbers = next(t for t, shown in clock["numbers"] if shown == text)
    figure = next(t for t, classes in clock["figure"] if shows in classes.split())
    cause = max(t for t in clock["input"] if t <= numbers)
    return (numbers - cause) / 1000, (figure - cause) / 1000


def change(page, action, latencies) -> None:
    """Do ``action``; from its end, wait until the numbers and then the figure show the state of the
    controls as left (a drag sends changes while it moves: what is left to show after the mouse is
    released is what a learner waits for); record both delays, by the test's clock and the page's."""
    before_png = dashboard_png(page)
    page.evaluate(PAGE_CLOCK)
    action()
    start = time.perf_counter()
    state = current_state(page)
    latencies[0].append(wait_for_numbers(page, state, start))
    latencies[1].append(wait_for_image(page, state, start))
    in_page = page_latencies(page, state)
    latencies[2].append(in_page[0])
    latencies[3].append(in_page[1])
    assert dashboard_png(page) != before_png, "the figure did not redraw"


def exercise_explorer(page, label: str) -> tuple[list[float], ...]:
    """Move phi, alpha (typed, then dragged), the published toggle and an out-of-range gamma; check every
    number shown."""
    page.wait_for_selector(".effnet-headline b", timeout=120_000)
    page.locator(".effnet-headline").scroll_into_view_if_needed()
    page.wait_for_function("() => ['alpha', 'beta', 'gamma', 'phi'].every(n => { const e = "
                           "document.querySelector(`.effnet-${n} .widget-readout`); "
                           "return e && e.textContent.trim() !== ''; })", timeout=60_000)
    page.wait_for_function("() => { const e = document.querySelector('.effnet-dashboard'); "
                           "return e && e.complete && e.naturalWidth > 0; }", timeout=60_000)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{label}-start.png"), full_page=True)
    page.locator(".effnet-dashboard").scroll_into_view_if_needed()
    assert_no_error_output(page)
    assert_shows_analytic_cost(page)
    latencies = ([], [], [], [])

    # phi: drag the handle with the mouse; the numbers follow analytic_cost, and the figure redraws
    for fraction in (0.55, 0.3, 0.45, 0.6, 0.35):
        change(page, lambda: drag_slider(page, "phi", fraction), latencies)
        assert_shows_analytic_cost(page)
    page.screenshot(path=str(ARTIFACTS / f"{label}-phi-moved.png"), full_page=True)

    # alpha: typed into the readout
    change(page, lambda: type_value(page, "alpha", "1.35"), latencies)
    assert slider_value(page, "alpha") == pytest.approx(1.35)
    assert_shows_analytic_cost(page)

    # alpha: dragged a little either way, as a learner tries it (the curves move with it)
    for fraction in (0.3, 0.4):
        change(page, lambda: drag_slider(page, "alpha", fraction), latencies)
        assert_shows_analytic_cost(page)

    # published B0-B7: the toggle shows the variant phi picks, with its own numbers
    change(page, lambda: page.locator(".effnet-mode button", has_text="published B0–B7").click(), latencies)
    state = current_state(page)
    k = round(slider_value(page, "phi"))
    assert state.config == el.official_config(f"b{k}")
    assert headline(page).startswith(f"published B{k}")
    assert_shows_analytic_cost(page)
    page.screenshot(path=str(ARTIFACTS / f"{label}-published.png"), full_page=True)
    change(page, lambda: page.locator(".effnet-mode button", has_text="formula").click(), latencies)
    assert headline(page).startswith("formula")

    # gamma typed below its range: the widget clamps it to 1.00; no traceback, numbers still exact
    change(page, lambda: type_value(page, "gamma", "0.5"), latencies)
    assert slider_value(page, "gamma") == 1.0
    assert page.text_content(".effnet-gamma .widget-readout").strip() == "1.00"
    assert_no_error_output(page)
    assert_shows_analytic_cost(page)
    return latencies


def ranking(page) -> list[str]:
    return [t.strip() for t in page.locator(".effnet-objective-ranking tbody tr th").all_inner_texts()]


def assert_ranking_matches(page) -> None:
    w = readout(page, ".effnet-objective-w")
    assert readout(page, ".effnet-objective-target") == 1.0  # T is the table's own
    expected = objective_state("published", w=w)
    assert ranking(page) == list(expected.index), (w, ranking(page))
    first_score = page.locator(".effnet-objective-ranking tbody tr").first.locator("td").nth(2).inner_text()
    assert float(first_score) == pytest.approx(round(expected.score.iloc[0], 4))


def exercise_objective(page) -> list[float]:
    """The NAS-objective tab: the ranking follows objective_state as w moves."""
    page.locator(".lm-TabBar-tab", has_text="NAS objective").click()
    page.wait_for_selector(".effnet-objective-ranking table", state="visible", timeout=60_000)
    assert_ranking_matches(page)
    latencies = []
    for fraction in (0.05, 0.6):   # w from about -0.48 (cost matters a lot) to about -0.2
        drag_slider(page, "objective-w", fraction)
        start = time.perf_counter()
        deadline = time.monotonic() + 30   # the ranking follows the drag: wait for the w it was left at
        while True:
            try:
                assert_ranking_matches(page)
                break
            except AssertionError:
                assert time.monotonic() < deadline
                page.wait_for_timeout(10)
        latencies.append(time.perf_counter() - start)
        assert_ranking_matches(page)
    page.screenshot(path=str(ARTIFACTS / "app-objective.png"), full_page=True)
    assert_no_error_output(page)
    return latencies


def report(label: str, latencies: tuple[list[float], ...]) -> None:
    """The medians, page's clock first (what a learner waits for), then the test's (with Playwright's
    round trips), and each change's delay in the order ``exercise_explorer`` makes them (five drags of
    phi, alpha typed, two drags of alpha, the published toggle and back, gamma typed)."""
    clocks = (("numbers shown", latencies[2], "in the page"), ("figure redrawn", latencies[3], "in the page"),
              ("numbers shown", latencies[0], "by the test"), ("figure redrawn", latencies[1], "by the test"))
    for what, values, clock in clocks:
        ms = [1000 * s for s in values]
        print(f"\n{label}: {what} after a control change ({clock}), ms: median {statistics.median(ms):.0f}, "
              f"max {max(ms):.0f} over {len(ms)} changes (target <= 100 ms); each: "
              + " ".join(f"{v:.0f}" for v in ms), end="")
    print()


def test_classroom_app_sliders_show_exact_costs(voila_app, page):
    page.goto(voila_app.url)
    latencies = exercise_explorer(page, "app")
    shown = page.inner_text("body")
    assert "import " not in shown and "compound_scaling_explorer(" not in shown, "the app shows code"
    report("Voilà app", latencies)
    ms = [1000 * v for v in exercise_objective(page)]
    print(f"Voilà app, NAS objective tab: ranking and figure updated after a w change, ms: {', '.join(f'{v:.0f}' for v in ms)}")


def test_lesson_04_explorer_in_jupyterlab(lab, page):
    page.goto(f"{lab.url}/tree/04_compound_scaling_explorer.ipynb")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    latencies = exercise_explorer(page, "lab")
    report("JupyterLab, lesson 04", latencies)

    # the lesson as slides (jupyterlab-rise's preview): the slide boundaries the notebook carries
    page.evaluate("() => window.jupyterapp.commands.execute('RISE:preview')")
    deadline = time.monotonic() + 60
    while not (frames := [f for f in page.frames if "/rise/04_compound_scaling_explorer" in f.url]):
        assert time.monotonic() < deadline, "the RISE preview did not open"
        page.wait_for_timeout(250)
    slides = frames[0]
    slides.wait_for_selector(".reveal .slides section.present", timeout=60_000)   # it opens at the active cell
    assert "04 · Compound scaling explorer" in slides.locator(".reveal .slides > section").first.text_content()
    assert slides.locator(".reveal .slides > section").count() >= 3
    page.screenshot(path=str(ARTIFACTS / "lab-slides.png"))
