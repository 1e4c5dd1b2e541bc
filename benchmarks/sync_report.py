"""The sync benchmark's results as markdown: runs, requests per endpoint, ratios, targets."""

from __future__ import annotations

from typing import Any


def markdown(results: dict[str, Any]) -> str:
    runs, checks = results["runs"], results["checks"]
    sections = [
        f"Sync benchmark, {results['date']}, {results['latency_ms']:g} ms latency per request, "
        f"{results['machine']['processor']} ({results['machine']['cpus']} cores), "
        f"Python {results['machine']['python']}",
        _runs(runs),
        _endpoints(runs),
    ]
    compared = [run for run in runs if "vs_0_3_4" in run]
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
        traffic = run["traffic"]
        endpoints = ", ".join(f"{name} {count:,}" for name, count in traffic["endpoints"].items())
        statuses = ", ".join(f"{code}: {count:,}" for code, count in traffic["statuses"].items())
        lines.append(f"| {run['scenario']} | {run['tool']} | {endpoints} ({statuses}) |")
    return "\n".join(lines)


def _ratios(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario (same tenant) | 0.3.4 / this tree: time | requests | RU |",
        "|---|---:|---:|---:|",
    ]
    for run in runs:
        ratio = run["vs_0_3_4"]
        lines.append(
            f"| {run['scenario']} | {ratio['time']:.1f}x | {ratio['requests']:.1f}x "
            f"| {ratio['resource_units']:.1f}x |"
        )
    return "\n".join(lines)


def _checks(checks: list[dict[str, Any]]) -> str:
    lines = ["| scenario | target | measured | met |", "|---|---|---|---|"]
    for check in checks:
        met = "yes" if check["met"] else "**no**"
        lines.append(f"| {check['scenario']} | {check['target']} | {check['value']} | {met} |")
    return "\n".join(lines)
