"""Slider explorers for the lessons: ipywidgets controls around a ``states`` function and a figure.

``FigureExplorer`` owns the redraw loop. Every change of a control calls the state function
(numbers, milliseconds) and shows its numbers at once; then the figure, drawn once
(``dashboards.ScalingDashboard``, ``dashboards.ConstraintMaps``, ``objective_figures.ObjectiveFigure``),
moves its artists to the new state and is sent as a JPEG. Sliders update while they are dragged:
in a kernel the figure is drawn by a thread that always draws the latest state, so a fast drag
never queues figures. ``state`` and ``renders`` are kept on each explorer for tests and the curious.
"""

from __future__ import annotations

import html
import re
import threading
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ..config import PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA
from .states import (PHI_MAX, PHI_MIN, PHI_STEP, GridPointState, ScalingState, _results_base, constraint_map_data,
                    describe_phi, grid_point_state, objective_points, objective_state, scaling_state,
                    OBJECTIVE_SOURCES)
from .tables import budget_table

if TYPE_CHECKING:
    import pandas as pd


DPI = 80   # the figures' pixels per inch: the compound-scaling dashboard is 1120 pixels wide


def _slider(description: str, value: float, lo: float, hi: float, step: float) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                               readout_format=".2f", continuous_update=True,
                               style={"description_width": "2.5em"}, layout=widgets.Layout(width="24em"))


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (a notebook, the app), not a plain interpreter (the tests)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def shows_class(caption: str) -> str:
    """The CSS class an explorer's image carries while it shows the state ``caption`` describes: a
    browser can tell the figure of the controls' state from one still on its way."""
    import hashlib

    return "effnet-shows-" + hashlib.sha1(caption.encode()).hexdigest()[:12]


class FigureExplorer(widgets.VBox):
    """Rows of controls, an HTML line of numbers and a figure: the loop every figure explorer shares.

    A subclass builds its controls, then calls ``__init__`` with the rows to show and the controls
    to watch, and implements ``compute`` (the state for the controls' values; a ``ValueError`` is
    shown as a message and the last good state stays on screen), ``describe`` (the numbers, as
    HTML) and ``draw`` (the figure for the first state: an object with the ``figure`` it drew into
    and an ``update`` method that moves its artists to a later state; ``update`` here passes it on).
    """

    figsize: tuple[float, float] = (14, 8)

    def __init__(self, rows: list, controls: list, dpi: int = DPI) -> None:
        self.image = widgets.Image(format="jpeg", layout=widgets.Layout(max_width="100%"))
        self.text = widgets.HTML()
        self.dpi = dpi
        self.renders = 0
        self.state = None
        self.live = None        # the drawn figure (see ``draw``), made on the first render
        self._shows = ""        # the image's class that names the state it shows
        self._lock, self._pending, self._worker = threading.Lock(), None, None
        super().__init__([*rows, self.text, self.image])
        for control in controls:
            control.observe(lambda _change: self.render(), names="value")
        self.render()

    def compute(self):
        raise NotImplementedError

    def describe(self, state) -> str:
        raise NotImplementedError

    def draw(self, fig, state):
        raise NotImplementedError

    def update(self, state) -> None:
        self.live.update(state)

    def caption(self, state) -> str:
        """Which state the figure shows, in words (the image's class ``shows_class`` of it follows)."""
        return html.unescape(re.sub(r"<[^>]+>", " ", self.describe(state))).split("\n")[0][:200]

    def render(self):
        """Compute the state for the controls as they are, show its numbers, then its figure."""
        try:
            state = self.compute()
        except ValueError as exc:  # a readable message in the page, never a traceback
            self.text.value = (f"<span class='effnet-error' style='color:#D55E00'><b>Not drawn:</b> "
                               f"{html.escape(str(exc))}</span>")
            return self.state
        self.state = state
        self.text.value = self.describe(state)   # the numbers first (a few ms), then the figure
        if self.live is not None and _in_kernel():
            self._redraw_soon(state)
        else:
            self._redraw(state)
        return state

    def _redraw(self, state) -> None:
        import matplotlib.pyplot as plt
        from matplotlib.figure import Figure

        from .style import STYLE

        with plt.rc_context(STYLE):
            if self.live is None:
                self.live = self.draw(Figure(figsize=self.figsize), state)
            else:
                self.update(state)
            image = self.live.jpeg(self.dpi)
        with self.image.hold_sync():   # the picture and the class naming its state arrive together
            self.image.value = image
            self.image.remove_class(self._shows)
            self._shows = shows_class(self.caption(state))
            self.image.add_class(self._shows)
        self.renders += 1

    def _redraw_soon(self, state) -> None:
        """In a kernel, the figure is drawn by a thread of the explorer's own, so the kernel goes on
        reading the slider's messages meanwhile; the thread then draws the latest state only (the
        states a drag passes through while a figure is drawn are skipped, not queued)."""
        with self._lock:
            self._pending = state
            if self._worker is None:
                self._worker = threading.Thread(target=self._drain, daemon=True)
                self._worker.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                state, self._pending = self._pending, None
                if state is None:
                    self._worker = None
                    return
            self._redraw(state)

    def wait(self) -> None:
        """Return when the figure shows the latest state (it is drawn in a thread in a kernel)."""
        worker = self._worker
        if worker is not None:
            worker.join()


class CompoundScalingExplorer(FigureExplorer):
    """Sliders for alpha, beta, gamma and phi, a formula/published toggle, and the dashboard figure
    (``dashboards.ScalingDashboard``) of ``scaling_state``."""

    figsize = (14, 8.2)

    def __init__(self, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA,
                 phi: float = 1.0, mode: str = "formula", dpi: int = DPI) -> None:
        self.alpha = _slider("α", alpha, 1.0, 2.0, 0.01)
        self.beta = _slider("β", beta, 1.0, 1.5, 0.01)
        self.gamma = _slider("γ", gamma, 1.0, 1.5, 0.01)
        self.phi = _slider("φ", phi, PHI_MIN, PHI_MAX, PHI_STEP)
        self.mode = widgets.ToggleButtons(options=[("formula α^φ, β^φ, γ^φ", "formula"),
                                                   ("published B0–B7 (φ picks Bφ)", "published")],
                                          value=mode, style={"button_width": "16em"})
        controls = [self.alpha, self.beta, self.gamma, self.phi, self.mode]
        sliders = widgets.HBox([widgets.VBox([self.alpha, self.beta]), widgets.VBox([self.gamma, self.phi])])
        super().__init__([self.mode, sliders], controls, dpi)
        # class names a browser test (and a stylesheet) can find the parts by
        for part, name in ((self.alpha, "alpha"), (self.beta, "beta"), (self.gamma, "gamma"), (self.phi, "phi"),
                           (self.mode, "mode"), (self.text, "headline"), (self.image, "dashboard")):
            part.add_class(f"effnet-{name}")

    def compute(self) -> ScalingState:
        return scaling_state(self.alpha.value, self.beta.value, self.gamma.value, self.phi.value, self.mode.value)

    def describe(self, state: ScalingState) -> str:
        return "<br>".join(f"<b>{line}</b>" if i == 0 else line for i, line in enumerate(state.headline.split("\n"))) + (
            f"<br><span class='effnet-exact'>exactly {state.macs:,} MACs and {state.params:,} parameters</span>")

    def caption(self, state: ScalingState) -> str:
        return state.headline.split("\n")[0]

    def draw(self, fig, state: ScalingState):
        from .dashboards import ScalingDashboard

        return ScalingDashboard(fig, state, title=False)   # the headline is the text above


def compound_scaling_explorer(**defaults) -> CompoundScalingExplorer:
    """The lesson-04 explorer (see ``CompoundScalingExplorer`` for the arguments)."""
    return CompoundScalingExplorer(**defaults)


class PhiExplorer(widgets.VBox):
    """One phi slider and one line of text from ``describe_phi``: the smallest possible explorer."""

    def __init__(self, phi: float = 0.0) -> None:
        self.phi = _slider("φ", phi, PHI_MIN, PHI_MAX, 0.1)
        self.phi.continuous_update = True  # text only: cheap enough to follow the mouse
        self.phi.layout = widgets.Layout(width="36em")
        self.text = widgets.HTML()
        super().__init__([self.phi, self.text])
        self.phi.observe(lambda _change: self.render(), names="value")
        self.render()

    def render(self) -> str:
        line = describe_phi(self.phi.value)
        self.text.value = f"<pre style='font-size: 1.1em'>{line}</pre>"
        return line


class BudgetExplorer(widgets.VBox):
    """A slider over the MAC budgets of the single-vs-compound sweep; shows ``budget_table``."""

    def __init__(self, table: "pd.DataFrame", budget: float = 4.0) -> None:
        budgets = sorted({float(b) for b in table.budget.dropna()})
        self.results = table
        self.budget = widgets.SelectionSlider(options=[(f"{b:g}×", b) for b in budgets], value=float(budget),
                                              description="budget", continuous_update=True,
                                              style={"description_width": "4em"}, layout=widgets.Layout(width="24em"))
        self.html = widgets.HTML()
        self.frame: "pd.DataFrame | None" = None
        super().__init__([self.budget, self.html])
        self.budget.observe(lambda _change: self.render(), names="value")
        self.render()

    def render(self) -> "pd.DataFrame":
        self.frame = budget_table(self.results, self.budget.value)
        title = (f"<b>Each rule at {self.budget.value:g}× the base's MACs</b> "
                 f"(saved results, {int(self.results.seeds_n.iloc[0])} seeds, {self.results.device.iloc[0]})")
        self.html.value = title + self.frame.to_html()
        return self.frame


class GridExplorer(FigureExplorer):
    """Sliders for alpha and beta (gamma follows from the constraint): the constraint maps with the
    point marked (``dashboards.ConstraintMaps``), and the nearest searched candidate's accuracy and cost."""

    figsize = (14, 5.6)

    def __init__(self, table: "pd.DataFrame", alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
                 dpi: int = DPI) -> None:
        import numpy as np

        self.results = table
        self.alpha = _slider("α", alpha, 1.0, 2.0, 0.01)
        self.beta = _slider("β", beta, 1.0, 1.42, 0.01)
        self.maps = constraint_map_data(_results_base(table), np.linspace(1.0, 2.0, 101), np.linspace(1.0, 1.42, 85))
        super().__init__([widgets.HBox([self.alpha, self.beta])], [self.alpha, self.beta], dpi)

    def compute(self) -> GridPointState:
        return grid_point_state(self.results, self.alpha.value, self.beta.value)

    def describe(self, state: GridPointState) -> str:
        return "<br>".join(f"<b>{line}</b>" if i == 2 else line for i, line in enumerate(state.headline.split("\n")))

    def draw(self, fig, state: GridPointState):
        from .dashboards import ConstraintMaps

        return ConstraintMaps(fig, self.maps, self.results, point=(state.alpha, state.beta))

    def update(self, state: GridPointState) -> None:
        self.live.update((state.alpha, state.beta))   # the maps stay; the point moves


class ObjectiveExplorer(FigureExplorer):
    """Sliders for w and T (log scale), a soft/hard toggle and a table picker: ``objective_state``
    drawn by ``objective_figures.ObjectiveFigure``, with the ranked table."""

    figsize = (14, 5.5)

    def __init__(self, source: str = "published", w: float = -0.07, target: float | None = None,
                 mode: str = "soft", dpi: int = DPI) -> None:
        self.source = widgets.Dropdown(options=OBJECTIVE_SOURCES, value=source, description="table")
        self.w = _slider("w", w, -0.5, 0.0, 0.01)
        self.target = widgets.FloatLogSlider(value=1.0, base=2, min=-4, max=4, step=0.25, description="T ×",
                                             continuous_update=True, readout_format=".3g",
                                             layout=widgets.Layout(width="24em"))
        self.mode = widgets.ToggleButtons(options=[("soft ACC·(MACs/T)^w", "soft"), ("hard: MACs ≤ T", "hard")],
                                          value=mode, style={"button_width": "12em"})
        self._points: dict[str, "pd.DataFrame"] = {}   # each table is read once, not on every slider move
        if target is not None:
            self.target.value = target / self.points(source).attrs["target"]
        super().__init__([widgets.HBox([self.source, self.mode]), widgets.HBox([self.w, self.target])],
                         [self.source, self.w, self.target, self.mode], dpi)
        for part, name in ((self.source, "source"), (self.w, "w"), (self.target, "target"), (self.mode, "mode"),
                           (self.text, "ranking"), (self.image, "figure")):
            part.add_class(f"effnet-objective-{name}")

    def points(self, source: str) -> "pd.DataFrame":
        """``objective_points(source)``, read once per explorer."""
        if source not in self._points:
            self._points[source] = objective_points(source)
        return self._points[source]

    def compute(self) -> "pd.DataFrame":
        points = self.points(self.source.value)
        return objective_state(points, self.w.value, points.attrs["target"] * self.target.value, self.mode.value)

    def describe(self, state: "pd.DataFrame") -> str:
        shown = state.assign(mmacs=state.macs / 1e6)[["mmacs", "accuracy", "score", "rank"]].round(4)
        return (f"<b>T = {state.attrs['target'] / 1e6:,.4g} MMACs</b> (the table's default × "
                f"{self.target.value:.3g});  {state.attrs['provenance']}" + shown.to_html())

    def draw(self, fig, state: "pd.DataFrame"):
        from .objective_figures import ObjectiveFigure

        return ObjectiveFigure(fig, state)


def objective_explorer(**defaults) -> ObjectiveExplorer:
    """The lesson-07 explorer (see ``ObjectiveExplorer`` for the arguments)."""
    return ObjectiveExplorer(**defaults)
