"""Latency against offered load, from the end-to-end bench's figures.

    python bench/plot.py    # bench/results/end_to_end.json -> bench/results/latency_vs_load.png

Needs matplotlib (``pip install 'stripay-hooks[bench]'``); without it, says
so and draws nothing. ``main(argv)`` returns the PNG's path, or None.
"""

from __future__ import annotations

import sys
from pathlib import Path

# As in the other benches: never bench/ itself on sys.path (its worker.py and
# receiver.py would shadow the project's packages).
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

INPUT = _ROOT / "bench" / "results" / "end_to_end.json"
OUTPUT = _ROOT / "bench" / "results" / "latency_vs_load.png"
TARGET_P99_MS = 250.0


def _series(runs: list[dict[str, Any]], figure: str, key: str) -> tuple[list[float], list[float | None]]:
    return [r["offered_rate"] for r in runs], [r[figure][key] for r in runs]


def plot(results: dict[str, Any], output: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = results["meta"]
    runs = results["runs"]
    window_ms = (meta["duration_s"] + meta["drain_s"]) * 1000  # beyond it: not applied in time
    fig, ax = plt.subplots(figsize=(12, 5.5), dpi=110)
    styles = [("notify_to_transition", "p50_ms", "notify → transition p50", "tab:blue", "o", "-"),
              ("notify_to_transition", "p99_ms", "notify → transition p99", "tab:blue", "s", "--"),
              ("ack", "p50_ms", "receiver ack p50", "tab:green", "o", "-"),
              ("ack", "p99_ms", "receiver ack p99", "tab:green", "s", "--")]
    censored_label = True
    for figure, key, label, color, marker, line in styles:
        rates, values = _series(runs, figure, key)
        shown = [(r, v) for r, v in zip(rates, values) if v is not None]
        if shown:
            ax.plot(*zip(*shown), marker=marker, linestyle=line, color=color, label=label)
        missing = [r for r, v in zip(rates, values) if v is None]
        if missing:
            ax.scatter(missing, [window_ms] * len(missing), marker="^", s=70, color=color, zorder=3,
                       label=(f"beyond {window_ms / 1000:g} s: not all applied by the end of the run"
                              if censored_label else None))
            censored_label = False
    sized = results.get("sized_run")
    if sized is not None:
        n2t = sized["notify_to_transition"]
        for key, marker in (("p50_ms", "*"), ("p99_ms", "P")):
            value = n2t[key] if n2t[key] is not None else window_ms
            ax.scatter([sized["offered_rate"]], [value], marker=marker, s=140, color="tab:red", zorder=4,
                       label=f"notify → transition {key[:3]}, {sized['processes']} worker processes on any core")
    ax.axhline(TARGET_P99_MS, color="grey", linestyle=":", linewidth=1)
    ax.text(max(r["offered_rate"] for r in runs), TARGET_P99_MS * 1.08, "target: p99 < 250 ms at 100/s",
            color="grey", fontsize=8, ha="right")
    capacity = results.get("capacity", {})
    bound = capacity.get("bound_for_pool_per_s")
    if bound:
        measured = capacity.get("measured_applied_per_s_when_overloaded")
        ax.axvline(bound, color="tab:orange", linestyle=":", linewidth=1)
        ax.text(bound * 1.04, 70,
                f"{meta['worker_processes']} processes × 1/latency\n= {bound:g} reconciles/s at most"
                + (f"\n(measured: {measured:g}/s)" if measured else ""), color="tab:orange", fontsize=8, va="center")
    ax.set_xscale("log")
    ax.set_yscale("log")
    rates = [r["offered_rate"] for r in runs]
    ax.set_xticks(rates)
    ax.set_xticklabels([f"{r:g}" for r in rates])
    ax.set_xlabel("offered notifications/s (open loop)")
    ax.set_ylabel("latency from scheduled send, ms")
    ax.set_title(f"Latency against load: receiver + {meta['worker_processes']} worker processes, "
                 f"Stripay /v1/order at {meta['api_latency_ms']:g} ms", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.text(0.01, 0.01, f"{meta['date']}, {meta['cpu']}; one run per rate; "
             f"{meta['duration_s']:g} s of sending each", fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    plt.close(fig)
    return output


def main(argv: Sequence[str] | None = None) -> Path | None:
    parser = argparse.ArgumentParser(prog="bench/plot.py", description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--input", default=str(INPUT), help="end-to-end figures (JSON)")
    parser.add_argument("--output", default=str(OUTPUT), help="PNG file")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed (pip install 'stripay-hooks[bench]'): no plot drawn", file=sys.stderr)
        return None
    results = json.loads(Path(args.input).read_text())
    path = plot(results, Path(args.output))
    print(f"plot written to {path}")
    return path


if __name__ == "__main__":
    main()
