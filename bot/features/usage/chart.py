"""The trends chart: a PNG of the last 12 months (license utilization and the use-case scores), drawn with
matplotlib's Agg backend (no display, thread-safe through the object API, no pyplot state)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scoring.model import AccountReport

USE_CASES: tuple[str, ...] = ("scm", "ci", "cd", "security")


def _figure() -> Figure:
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure, title: str) -> bytes:
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _nan(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def trends_png(report: AccountReport) -> bytes:
    t = report.trends
    labels = [m.strftime("%Y-%m") for m in t.months]
    fig = _figure()
    ax_u, ax_s = fig.subplots(2, 1, sharex=True)
    util = [None if p.value is None else p.value * 100 for p in t.utilization]
    ax_u.plot(labels, _nan(util), marker="o", color="#6b4fbb")
    ax_u.set_ylabel("License utilization %")
    ax_u.grid(alpha=0.3)
    for key in USE_CASES:
        series = t.measures.get(key, ())
        ax_s.plot(
            labels,
            [float("nan") if p.score is None else p.score for p in series],
            marker=".",
            label=report.measures[key].label,
        )
    ax_s.set_ylabel("Score (25 / 63 / 88)")
    ax_s.set_ylim(0, 100)
    ax_s.grid(alpha=0.3)
    ax_s.legend(loc="upper left", fontsize="small", ncols=4)
    ax_s.tick_params(axis="x", labelrotation=45, labelsize="small")
    return _png(fig, f"{report.account.name}: last {len(labels)} months")


def adoption_png(report: AccountReport) -> bytes:
    """The user adoption ratios (share of monthly active users), one line each, over the last 12 months."""
    a = report.adoption
    fig = _figure()
    ax = fig.subplots(1, 1)
    months: list[str] = []
    for r in a.ratios.values() if a is not None else ():
        months = [p.month.strftime("%Y-%m") for p in r.series]
        ax.plot(months, _nan([None if p.value is None else p.value * 100 for p in r.series]), marker=".", label=r.label)
    ax.set_ylabel("% of monthly active users")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    if months:
        ax.legend(loc="upper left", fontsize="small", ncols=3)
    ax.tick_params(axis="x", labelrotation=45, labelsize="small")
    return _png(fig, f"{report.account.name}: user adoption, last {len(months)} months")
