"""`make bench`'s plot: saga latency against offered rate, the current services against the
baseline, and — with ``--instances`` — a second panel for the stores and instance counts."""

from __future__ import annotations

from pathlib import Path

from devtools.benchmetrics import has_postgres

PERCENTILES = (("p50", "tab:blue"), ("p95", "tab:orange"), ("p99", "tab:red"))
#: One colour per configuration in the second panel; p50 solid, p99 dashed.
CONFIGURATION_COLOURS = ("tab:green", "tab:purple", "tab:brown", "tab:olive")


def plot(report: dict, path: Path) -> None:
    """Latency percentiles against offered rate, with the floor of four raw hops drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if has_postgres(report) else 1
    figure, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.5), squeeze=False)
    _versions(report, axes[0][0])
    if panels == 2:
        _configurations(report, axes[0][1])
    for axis in axes[0]:
        axis.axhline(4 * report["raw_hop_ms"]["p50"], color="grey", linestyle=":",
                     label="floor: 4 × raw hop p50")
        axis.set_xlabel("offered orders/s")
        axis.set_ylabel("created → OrderCompleted, ms")
        axis.set_yscale("log")
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _versions(report: dict, axis) -> None:
    for label, style in (("baseline", "--"), ("current", "-")):
        run = report["runs"].get(label)
        if run is not None:
            for p, colour in PERCENTILES:
                axis.plot(report["rates"], _series(report, run, p), style, marker="o",
                          color=colour, label=f"{label} {p}")
    axis.set_title(f"saga latency ({report['machine']['cpus']} cores, one box)")


def _configurations(report: dict, axis) -> None:
    runs = [run for label, run in report["runs"].items() if label != "baseline"]
    for run, colour in zip(runs, CONFIGURATION_COLOURS, strict=False):
        name = f"{run['store']} ×{run['instances']}"
        for p, style, marker in (("p50", "-", "o"), ("p99", "--", "s")):
            axis.plot(report["rates"], _series(report, run, p), style, marker=marker,
                      color=colour, label=f"{name} {p}")
    axis.set_title("stores and instances per service (current services)")


def _series(report: dict, run: dict, percentile: str) -> list[float]:
    return [run["rates"][f"{rate:g}"][percentile] for rate in report["rates"]]
