"""The trends chart: a PNG of the last 12 months (license utilization and the use-case scores), drawn with
matplotlib's Agg backend (no display, thread-safe through the object API, no pyplot state)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scoring.model import AccountReport

USE_CASES: tuple[str, ...] = ("scm", "ci", "cd", "security")


def trends_png(report: AccountReport) -> bytes:
    t = report.trends
    labels = [m.strftime("%Y-%m") for m in t.months]
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax_u, ax_s = fig.subplots(2, 1, sharex=True)
    util = [None if p.value is None else p.value * 100 for p in t.utilization]
    ax_u.plot(labels, [float("nan") if v is None else v for v in util], marker="o", color="#6b4fbb")
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
    fig.suptitle(f"{report.account.name}: last {len(labels)} months")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
