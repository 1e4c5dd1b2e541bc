"""The sync benchmark's results as markdown: runs, requests per endpoint, ratios, targets."""

from __future__ import annotations

from typing import Any

from benchmarks.rclone_runs import VARIANTS


def markdown(results: dict[str, Any]) -> str:
    runs, checks = results["runs"], results["checks"]
    sections = [
        f"Sync benchmark, {results['date']}, {results['latency_ms']:g} ms latency per request, "
        f"{results['machine']['processor']} ({results['machine']['cpus']} cores), "
        f"Python {results['machine']['python']}, "
        f"rclone {results['machine'].get('rclone') or 'not found'}",
        _runs(runs),
        _endpoints(runs),
    ]
    compared = [run for run in runs if "vs_0_3_4" in run or "vs_rclone" in run]
    if compared:
        sections.append(_ratios(compared))
    sections.append(_checks(checks))
    if results["notes"]:
        sections.append("\n".join(f"- {note}" for note in results["notes"]))
    return "\n\n".join(sections)


def _runs(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | tool | files | wall s | CPU s | requests | RU | RU/file | peak RSS MB "
        "| MB moved | correct |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        if run.get("skipped"):
            lines.append(
                f"| {run['scenario']} | {run['tool']} | {run['files']:,} "
                f"| skipped: {run['skipped']} |||||||"
            )
            continue
        per_file = "" if run["ru_per_file"] is None else f"{run['ru_per_file']:.2f}"
        correct = "yes" if run["ok"] else f"no: {run['detail']}"
        lines.append(
            f"| {run['scenario']} | {run['tool']} | {run['files']:,} | {run['wall_s']:.2f} "
            f"| {run['cpu_s']:.2f} "
            f"| {run['requests']:,} | {run['resource_units']:,} | {per_file} "
            f"| {run['peak_rss_mb']:.0f} | {run['bytes_moved'] / 1e6:,.1f} | {correct} |"
        )
    return "\n".join(lines)


def _endpoints(runs: list[dict[str, Any]]) -> str:
    lines = ["| scenario | tool | requests per endpoint (HTTP statuses) |", "|---|---|---|"]
    for run in runs:
        if run.get("skipped"):
            continue
        traffic = run["traffic"]
        endpoints = ", ".join(f"{name} {count:,}" for name, count in traffic["endpoints"].items())
        statuses = ", ".join(f"{code}: {count:,}" for code, count in traffic["statuses"].items())
        lines.append(f"| {run['scenario']} | {run['tool']} | {endpoints} ({statuses}) |")
    return "\n".join(lines)


def _ratios(runs: list[dict[str, Any]]) -> str:
    """Other tool / this tree per measure: 0.3.4, then each rclone variant."""
    others = ["0.3.4", *(f"rclone {variant.label}" for variant in VARIANTS)]
    head = " | ".join(f"{other} / this tree: time | requests | RU" for other in others)
    lines = [f"| scenario (same tenant) | {head} |", "|---" + "|---:" * 3 * len(others) + "|"]
    for run in runs:
        by_rclone = run.get("vs_rclone") or {}
        cells = [_ratio_cells(run.get("vs_0_3_4"), "vs_0_3_4" in run)]
        cells += [_ratio_cells(by_rclone.get(v.label), v.label in by_rclone) for v in VARIANTS]
        lines.append(f"| {run['scenario']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ratio_cells(ratio: dict[str, float] | None, measured: bool) -> str:
    if ratio is None:
        return " | ".join(["skipped" if measured else "-"] * 3)
    return " | ".join(f"{ratio[key]:.1f}x" for key in ("time", "requests", "resource_units"))


def _checks(checks: list[dict[str, Any]]) -> str:
    lines = ["| scenario | target | measured | met |", "|---|---|---|---|"]
    for check in checks:
        met = "yes" if check["met"] else "**no**"
        lines.append(f"| {check['scenario']} | {check['target']} | {check['value']} | {met} |")
    return "\n".join(lines)
