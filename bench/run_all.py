"""Every bench in one command: receiver, worker, end to end, then the plot and a summary.

    python bench/run_all.py            # full runs, about 10 minutes (`make bench`)
    python bench/run_all.py --quick    # short runs, about 2.5 minutes
    python bench/run_all.py --only worker,end_to_end   # the others' figures from their last results

Each bench writes its own figures to ``bench/results/<name>.json``; this
writes ``bench/results/summary.json`` with the headline figures and every
target, prints them, and exits 1 when a bench failed (the others still run).
Targets are reported, never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Never bench/ itself on sys.path (``bench/receiver.py`` would shadow the
# ``receiver`` package): the repository root, and the benches as ``bench.*``.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

from bench._common import machine_meta, print_table, write_results  # noqa: E402

RESULTS = _ROOT / "bench" / "results"
BENCHES = ("receiver", "worker", "end_to_end")


def _receiver_summary(r: dict[str, Any]) -> dict[str, Any]:
    closed, open_loop = r["closed_loop"], r["open_loop"]
    return {
        "receiver_req_per_s": closed["receiver"]["median"]["rps"],
        "bare_handler_req_per_s": closed["bare"]["median"]["rps"],
        "receiver_vs_bare": r["ratios"]["receiver_vs_bare"],
        "receiver_vs_thread_enqueue": r["ratios"]["receiver_vs_thread_enqueue"],
        "receiver_cpu_us_per_request": closed["receiver"]["median"]["server_cpu_us_per_request"],
        "open_loop_rate": r["meta"]["open_loop"]["rate"],
        "open_loop_ack_p50_ms": open_loop["receiver"]["median"]["p50_ms"],
        "open_loop_ack_p99_ms": open_loop["receiver"]["median"]["p99_ms"],
        "redis_bytes_per_event": r["memory"]["bytes_per_event"],
        "seen_key_bytes": r["memory"]["memory_usage_seen_key"],
    }


def _worker_summary(r: dict[str, Any]) -> dict[str, Any]:
    per_process = {s["name"]: s["median"]["jobs_per_s_per_process"] for s in r["runs"]}
    one = min(s["processes"] for s in r["runs"])
    figures = {f"{s['kind']}_{s['latency_ms']:g}ms_{s['processes']}proc_{s.get('threads', 1)}thr": s["median"]
               for s in r["runs"]}
    return {
        "jobs_per_s_per_process": per_process,
        "ratios_vs_noop": r["ratios"],
        "scaling": r["scaling"],
        "redis_commands_per_job": {k: v["redis_commands_per_job"] for k, v in figures.items()
                                   if f"_{one}proc_" in k},
        "worker_cpu_us_per_job": {k: v["worker_cpu_us_per_job"] for k, v in figures.items()
                                  if f"_{one}proc_" in k},
    }


def _end_to_end_summary(r: dict[str, Any]) -> dict[str, Any]:
    runs = [*r["runs"], *([r["sized_run"]] if r.get("sized_run") else [])]
    return {
        "api_latency_ms": r["meta"]["api_latency_ms"],
        "runs": [{"offered_rate": x["offered_rate"], "processes": x["processes"],
                  "applied_fraction": x["applied_fraction"], "applied_per_s": x["applied_per_s"],
                  "notify_to_transition_p50_ms": x["notify_to_transition"]["p50_ms"],
                  "notify_to_transition_p99_ms": x["notify_to_transition"]["p99_ms"],
                  "ack_p50_ms": x["ack"]["p50_ms"], "ack_p99_ms": x["ack"]["p99_ms"]} for x in runs],
        "capacity": r["capacity"],
        "memory": r.get("memory"),
    }


SUMMARIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "receiver": _receiver_summary, "worker": _worker_summary, "end_to_end": _end_to_end_summary,
}


def _print(summary: dict[str, Any]) -> None:
    rows: list[tuple[object, ...]] = []
    benches = summary["benches"]
    if "receiver" in benches and "figures" in benches["receiver"]:
        f = benches["receiver"]["figures"]
        rows += [("receiver", "req/s, closed loop (x bare handler)",
                  f"{f['receiver_req_per_s']:,.0f} ({f['receiver_vs_bare']:.2f})"),
                 ("receiver", f"ack p50 / p99 at {f['open_loop_rate']:,.0f}/s",
                  f"{f['open_loop_ack_p50_ms']:.2f} / {f['open_loop_ack_p99_ms']:.2f} ms"),
                 ("receiver", "Redis bytes per accepted notification", f"{f['redis_bytes_per_event']:,.0f}")]
    if "worker" in benches and "figures" in benches["worker"]:
        f = benches["worker"]["figures"]
        for name, value in f["jobs_per_s_per_process"].items():
            rows.append(("worker", f"jobs/s per process: {name}", f"{value:,.1f}"))
        for name, value in f["ratios_vs_noop"].items():
            rows.append(("worker", name, f"{value:.2f}"))
        for name, value in f["scaling"].items():
            rows.append(("worker", f"scaling {name} (total jobs/s vs fewest processes)",
                         "  ".join(f"{n}: {v:.2f}" for n, v in value.items())))
        for name, value in f["redis_commands_per_job"].items():
            rows.append(("worker", f"Redis commands per job: {name}", f"{value:.1f}"))
    if "end_to_end" in benches and "figures" in benches["end_to_end"]:
        f = benches["end_to_end"]["figures"]
        for x in f["runs"]:
            p50, p99 = x["notify_to_transition_p50_ms"], x["notify_to_transition_p99_ms"]
            label = f"{x['offered_rate']:g}/s, {x['processes']} processes: notify->transition p50 / p99 (applied)"
            value = f"{_ms(p50)} / {_ms(p99)} ({x['applied_fraction']:.0%}); ack p99 {x['ack_p99_ms']:.1f} ms"
            rows.append(("end_to_end", label, value))
        mem = f.get("memory")
        if mem:
            rows += [("end_to_end", "Redis bytes: remembered event (seen key)", f"{mem['seen_key']:,.0f}"),
                     ("end_to_end", "Redis bytes: stored order (hash + history + stream entry)",
                      f"{mem['stored_order_total']:,.0f}"),
                     ("end_to_end", "Redis bytes: used_memory delta per notification",
                      f"{mem['used_memory_delta_per_order']:,.0f}")]
    print_table("Summary", ("bench", "figure", "value"), rows)
    print_table("Targets (report only)", ("bench", "target", "value", "met"),
                [(b, name, "-" if t["value"] is None else t["value"], "yes" if t["met"] else "NO")
                 for b, targets in summary["targets"].items() for name, t in targets.items()])
    reused = [f"{name} ({b['reused']})" for name, b in benches.items() if "reused" in b]
    if reused:
        print(f"\nfrom earlier results: {'; '.join(reused)}")
    failed = [name for name, b in benches.items() if "error" in b]
    if failed:
        print(f"\nfailed: {', '.join(failed)} (see above)")


def _ms(value: float | None) -> str:
    return "not applied in time" if value is None else f"{value:,.0f} ms"


def _reuse(summary: dict[str, Any], name: str) -> None:
    """Summarise a bench left out by ``--only`` from its last results file, if there is one."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return
    try:
        results = json.loads(path.read_text())
        entry = {"figures": SUMMARIES[name](results), "file": f"bench/results/{name}.json",
                 "reused": f"not run; figures of {results.get('meta', {}).get('date', 'an earlier run')}"}
    except (ValueError, KeyError, TypeError) as err:
        print(f"bench/results/{name}.json not summarised: {type(err).__name__}: {err}", file=sys.stderr)
        return
    summary["benches"][name] = entry
    summary["targets"][name] = results.get("targets", {})


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench/run_all.py", description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every bench")
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {', '.join(BENCHES)}")
    parser.add_argument("--no-plot", action="store_true", help="skip the latency plot")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    bench_argv = ["--quick"] if args.quick else []
    summary: dict[str, Any] = {"meta": {**machine_meta(), "quick": args.quick}, "benches": {}, "targets": {}}
    for name in BENCHES:
        if name not in chosen:
            _reuse(summary, name)
            continue
        print(f"\n=== bench/{name}.py {' '.join(bench_argv)}".rstrip(), flush=True)
        started = time.monotonic()
        try:
            results = importlib.import_module(f"bench.{name}").main(bench_argv)
            entry: dict[str, Any] = {"figures": SUMMARIES[name](results), "file": f"bench/results/{name}.json"}
            summary["targets"][name] = results.get("targets", {})
        except Exception as err:  # noqa: BLE001 - one bench failing must not stop the others
            traceback.print_exc()
            entry = {"error": f"{type(err).__name__}: {err}"}
        entry["seconds"] = round(time.monotonic() - started, 1)
        summary["benches"][name] = entry
    if not args.no_plot and "figures" in summary["benches"].get("end_to_end", {}):
        from bench import plot

        path = plot.main([])
        summary["plot"] = str(path.relative_to(_ROOT)) if path else None
    summary["meta"]["loadavg_after"] = machine_meta()["loadavg"]
    _print(summary)
    write_results(summary, RESULTS / "summary.json")
    return summary


if __name__ == "__main__":
    summary = main()
    sys.exit(1 if any("error" in b for b in summary["benches"].values()) else 0)
