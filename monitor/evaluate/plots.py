"""PNG plots of an evaluation: precision-recall curve, score distributions (honest vs.
attack) and detection delay per scenario.

matplotlib is imported inside :func:`write_plots` and drawn on an Agg canvas bound to each
figure (no pyplot, no global backend switch), so importing this module costs nothing and
works without a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .metrics import Report, pr_curve
from .run import Collected

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PLOT_FILES", "write_plots"]

PLOT_FILES = ("precision_recall.png", "score_distribution.png", "detection_delay.png")


def write_plots(collected: Collected, report: Report, directory: Path | str) -> list[Path]:
    """Write the three plots into ``directory`` (created if needed); return their paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    figures = (
        _precision_recall(Figure(figsize=(6, 5)), collected, report),
        _score_distribution(Figure(figsize=(7, 4.5)), collected),
        _detection_delay(Figure(figsize=(11, 4.5)), report),
    )
    paths = []
    for name, fig in zip(PLOT_FILES, figures, strict=True):
        FigureCanvasAgg(fig)
        fig.tight_layout()
        path = directory / name
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths


def _precision_recall(fig: Figure, c: Collected, report: Report) -> Figure:
    ax = fig.add_subplot()
    _, precision, recall = pr_curve(c.scores, c.malicious)
    ap = report.overall.pr.average_precision
    if len(recall) and not np.isnan(recall).any():
        ax.step(np.r_[0.0, recall], np.r_[precision[0], precision], where="post", lw=1.5)
        ax.plot(recall, precision, "o", ms=3)
    else:
        ax.text(0.5, 0.5, "no labelled events", ha="center", va="center")
    ax.set(
        xlim=(0, 1.02),
        ylim=(0, 1.02),
        xlabel="recall (labelled events alerted)",
        ylabel="precision",
        title="Precision-recall over decision score"
        + (f" (AP {ap:.3f})" if ap is not None else ""),
    )
    ax.grid(alpha=0.3)
    return fig


def _score_distribution(fig: Figure, c: Collected) -> Figure:
    ax = fig.add_subplot()
    bins = [i / 50 for i in range(51)]
    for mask, name in ((~c.malicious, "honest"), (c.malicious, "attack")):
        scores = c.scores[mask]
        if len(scores):
            weights = np.full(len(scores), 1.0 / len(scores))
            label = f"{name} ({len(scores):,} events)"
            ax.hist(scores, bins=bins, weights=weights, histtype="step", lw=1.5, label=label)
    ax.set_yscale("log")
    ax.set(xlabel="decision score", ylabel="share of events", title="Score distribution")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def _detection_delay(fig: Figure, report: Report) -> Figure:
    by_time, by_events = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for s in report.scenarios:
        cs = [c for c in report.campaigns if c.scenario == s.scenario]
        minutes = sorted((c.time_to_detection_s or 0.0) / 60 for c in cs if c.detected)
        events = sorted(float(c.events_to_detection or 0) for c in cs if c.detected)
        share = np.arange(1, len(minutes) + 1) / len(cs)
        label = f"{s.scenario} ({s.detected}/{s.campaigns})"
        by_time.step(minutes, share, where="post", label=label)
        by_events.step(events, share, where="post", label=label)
    by_time.set_xscale("symlog", linthresh=1.0)
    by_events.set_xscale("log")
    by_time.set(
        xlabel="minutes from the campaign's first event",
        ylabel="share of campaigns detected",
        title="Time to detection",
        ylim=(0, 1.02),
    )
    by_events.set(
        xlabel="campaign events up to detection",
        ylabel="share of campaigns detected",
        title="Events to detection",
        ylim=(0, 1.02),
    )
    for ax in (by_time, by_events):
        ax.grid(alpha=0.3)
    if report.scenarios:
        by_time.legend(fontsize=8, loc="lower right")
    else:
        by_time.text(
            0.5, 0.5, "no campaigns", ha="center", va="center", transform=by_time.transAxes
        )
    return fig
