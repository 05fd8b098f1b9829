"""`make bench`'s read-outs: the per-hop breakdown from the services' /metrics, the table and
the summary lines (the plot: ``devtools.benchplot``)."""

from __future__ import annotations

import math

import httpx
from prometheus_client.parser import text_string_to_metric_families

from devtools.processes import Mesh

#: Stage of a hop → the histogram every service exports for it (see shared/runtime/metrics.py).
STAGES = {
    "waiting in the topic": "saga_event_wait_seconds",
    "handler": "saga_handler_seconds",
    "group commit": "saga_commit_seconds",
    "relay pick-up": "saga_relay_pickup_seconds",
    "produce acknowledgement": "saga_publish_seconds",
}


def scrape(mesh: Mesh) -> dict[str, tuple[float, float]] | None:
    """Sum and count of each stage's histogram over all services; None when the services
    export no metrics (an older commit)."""
    totals = {metric: [0.0, 0.0] for metric in STAGES.values()}
    for service in mesh.services.values():
        try:
            response = httpx.get(f"{service.url}/metrics", timeout=5)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                for metric, total in totals.items():
                    if sample.name == f"{metric}_sum":
                        total[0] += sample.value
                    elif sample.name == f"{metric}_count":
                        total[1] += sample.value
    return {metric: (total[0], total[1]) for metric, total in totals.items()}


def breakdown(before: dict, after: dict | None) -> dict[str, float] | None:
    """Mean milliseconds per stage between two scrapes."""
    if after is None:
        return None
    means = {}
    for stage, metric in STAGES.items():
        total = after[metric][0] - before[metric][0]
        count = after[metric][1] - before[metric][1]
        means[stage] = round(total / count * 1000, 2) if count else math.nan
    return means


def reference_rate(report: dict) -> str:
    rates = [f"{rate:g}" for rate in report["rates"]]
    return "200" if "200" in rates else rates[0]


def table(report: dict) -> str:
    floor = report["raw_hop_ms"]
    lines = [f"raw Kafka hop on this broker: p50 {floor['p50']} ms, p99 {floor['p99']} ms", ""]
    lines.append(_header(report))
    if has_postgres(report):
        lines.append(_row("store, instances per service", report,
                          lambda run: f"{run['store']} x{run['instances']}"))
    lines.append(_row("completed sagas/s (burst)", report,
                      lambda run: run["burst"]["sagas_per_s"]))
    lines.append(_row("CPU ms/saga, all services", report,
                      lambda run: run["burst"]["cpu_ms_per_saga"]))
    if has_postgres(report):
        lines.append(_row("CPU ms/saga, PostgreSQL server", report,
                          lambda run: _g(run["burst"].get("postgres_cpu_ms_per_saga"))))
    for rate in report["rates"]:
        key = f"{rate:g}"
        for p in ("p50", "p95", "p99"):
            lines.append(_row(f"{p} ms @ {key}/s", report, lambda run, k=key, q=p:
                              run["rates"][k][q]))
        lines.append(_row(f"hop_ratio @ {key}/s", report,
                          lambda run, k=key: hop_ratio(report, run, k)))
        lines.append(_row(f"incomplete @ {key}/s", report,
                          lambda run, k=key: run["rates"][k]["incomplete"]))
        lines.append(_row(f"CPU ms/saga @ {key}/s, all services", report,
                          lambda run, k=key: _g(run["rates"][k].get("cpu_ms_per_saga"))))
    lines.append(_row("peak RSS MB, largest process", report,
                      lambda run: max(run["peak_rss_mb"].values())))
    if has_postgres(report):
        lines.append(_row("peak RSS MB, all processes (sum)", report, rss_total))
    # Every service of any run: a baseline from before a service joined has none of its CPU.
    services = dict.fromkeys(name for run in report["runs"].values()
                             for name in run["burst"]["cpu_s_per_1000_sagas"])
    for name in services:
        lines.append(_row(f"CPU s/1000 sagas {name.split('_')[0]}", report,
                          lambda run, n=name: run["burst"]["cpu_s_per_1000_sagas"].get(n, "-")))
    lines += _monitor_rows(report)
    current = report["runs"]["current"]
    title = f"where a hop's time goes at {reference_rate(report)}/s (mean ms, all services)"
    if has_postgres(report):
        lines += ["", f"{title}:", _header(report)]
        lines += [_row(f"  {stage}", report, lambda run, s=stage: _g(
            (run.get("breakdown_ms") or {}).get(s))) for stage in STAGES]
    elif current.get("breakdown_ms"):
        lines += ["", f"{title}:"]
        lines += [f"  {stage:<26} {ms:>8}" for stage, ms in current["breakdown_ms"].items()]
    return "\n".join(lines)


def _header(report: dict) -> str:
    return f"{'':34}" + "".join(f"{label:>16}" for label in report["runs"])


def _monitor_rows(report: dict) -> list[str]:
    def field(name: str):
        return lambda run: "-" if run["monitor"] is None else run["monitor"][name]

    return [_row("monitored burst: sagas/s", report, field("sagas_per_s")),
            _row("  monitor_lag_s (worst trail)", report,
                 lambda run: monitor_lag(run["monitor"])),
            _row("  median trail s", report, field("lag_median_s")),
            _row("  monitor CPU ms/saga", report, field("cpu_ms_per_saga")),
            _row("  monitor peak RSS MB", report, field("peak_rss_mb"))]


def monitor_lag(monitor: dict | None) -> str:
    """The worst trail; ``>`` when the monitor never counted every saga (a lower bound)."""
    if monitor is None:
        return "-"
    return f"{'' if monitor['caught_up'] else '>'}{monitor['lag_s']:.2f}"


def _row(name: str, report: dict, value) -> str:
    return f"{name:<34}" + "".join(f"{value(run):>16}" for run in report["runs"].values())


def hop_ratio(report: dict, run: dict, rate: str) -> float:
    return round(run["rates"][rate]["p50"] / (4 * report["raw_hop_ms"]["p50"]), 2)


def last_line(report: dict) -> str:
    """The summary; a field without a figure (no baseline, no monitor) is ``-``, so that every
    line has the same fields in the same order."""
    run, rate = report["runs"]["current"], reference_rate(report)
    baseline = report["runs"].get("baseline")
    monitor = run["monitor"]
    return (f"bench: sagas_per_s={run['burst']['sagas_per_s']:g} "
            f"p50_ms@{rate}={run['rates'][rate]['p50']:g} "
            f"p99_ms@{rate}={run['rates'][rate]['p99']:g} "
            f"hop_ratio@{rate}={hop_ratio(report, run, rate):g} "
            f"rss_mb_max={max(run['peak_rss_mb'].values()):g} "
            f"raw_hop_p50_ms={report['raw_hop_ms']['p50']:g} "
            f"cpu_ms_per_saga={run['burst']['cpu_ms_per_saga']:g} "
            f"baseline_sagas_per_s={_g(baseline and baseline['burst']['sagas_per_s'])} "
            f"baseline_cpu_ms_per_saga={_g(baseline and baseline['burst']['cpu_ms_per_saga'])} "
            f"monitor_lag_s={monitor_lag(monitor)} "
            f"monitor_cpu_ms_per_saga={_g(monitor and monitor['cpu_ms_per_saga'])}")


def has_postgres(report: dict) -> bool:
    return any(run.get("store") == "postgres" for run in report["runs"].values())


def rss_total(run: dict) -> float:
    """The services' peak resident memory added up over every process (not the database's)."""
    return round(sum(run["peak_rss_mb"].values()), 1)


def configuration_lines(report: dict) -> list[str]:
    """With PostgreSQL configurations in the run, one ``bench: store=… instances=…`` line for
    each configuration of the current services (SQLite first), the same fields in the same
    order: burst sagas/s, p50 and p99 at every rate, the services' CPU per saga (every
    instance), the database server's CPU per saga (``-`` for SQLite or a server elsewhere),
    and peak RSS (largest process, and the sum over the services' processes)."""
    if not has_postgres(report):
        return []
    runs = [run for label, run in report["runs"].items() if label != "baseline"]
    return [_configuration_line(report, run) for run in runs]


def _configuration_line(report: dict, run: dict) -> str:
    burst = run["burst"]
    latency = " ".join(f"p50_ms@{rate:g}={run['rates'][f'{rate:g}']['p50']:g} "
                       f"p99_ms@{rate:g}={run['rates'][f'{rate:g}']['p99']:g}"
                       for rate in report["rates"])
    return (f"bench: store={run['store']} instances={run['instances']} "
            f"sagas_per_s={burst['sagas_per_s']:g} {latency} "
            f"cpu_ms_per_saga={burst['cpu_ms_per_saga']:g} "
            f"postgres_cpu_ms_per_saga={_g(burst.get('postgres_cpu_ms_per_saga'))} "
            f"rss_mb_max={max(run['peak_rss_mb'].values()):g} rss_mb_total={rss_total(run):g}")


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
