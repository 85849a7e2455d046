"""One table from the figures, with each real figure as a ratio of its ceiling and PASS/MISS
beside each target. A missed target is reported, never an error."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Row:
    figure: str
    value: str = ""
    p50: str = ""
    p99: str = ""
    srv: str = ""
    per_req: str = ""
    gen: str = ""
    other: str = ""
    runq: str = ""
    ceiling: str = ""
    target: str = ""
    result: str = ""


def _ms(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def _pct(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * 100:.0f}%"


def _rate(v: float, unit: str = "/s") -> str:
    return f"{v:,.0f}{unit}"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def _load_row(name: str, m: dict[str, Any], unit: str = "/s") -> Row:
    value = _rate(m["rate"], unit)
    adjusted = m.get("rate_unstarved")
    if adjusted and adjusted == adjusted and adjusted > m["rate"] * 1.05:
        value += f" ({adjusted:,.0f})"
    bad = m["n"] - m["ok"] if "ok" in m else 0
    if bad:
        value += f" ({bad} not ok: {m['statuses']})"
    return Row(
        name,
        value,
        _ms(m.get("p50_ms")),
        _ms(m.get("p99_ms")),
        _pct(m.get("cpu_server")),
        _ms(m.get("server_cpu_ms_per_request")),
        _pct(m.get("cpu_loadgen")),
        _pct(m.get("cpu_other")),
        _pct(m.get("server_runq_share")),
    )


def _vs(real: dict[str, Any], bare: dict[str, Any]) -> str:
    text = f"{real['rate'] / bare['rate']:.0%}"
    ra, ba = real.get("rate_unstarved"), bare.get("rate_unstarved")
    if ra and ba and ra == ra and ba == ba:
        text += f" (adj {ra / ba:.0%})"
    return text


def _signing_rows(sg: dict[str, Any], target: Callable[..., Row]) -> list[Row]:
    """Version 3's signature per envelope (bench/signcost.py): sign and verify, and whole
    seals as version 2 and 3, in Chromium (1x, slowed) and Python; best / median of 7 means."""

    def figures(times: dict[str, Any]) -> str:
        return ", ".join(
            f"{op} {t['best_ms']:.2f} / {t['median_ms']:.2f}" for op, t in times.items()
        )

    slowed = sg["chromium"][f"{sg['slowdown']}x"]
    out = [
        Row(
            f"envelope v3 in Chromium, 1x (ms, best / median of 7 means of {sg['rounds']})",
            figures(sg["chromium"]["1x"]),
        ),
        Row(
            f"envelope v3 in Python (ms, best / median of 7 means of {sg['rounds']})",
            figures(sg["python"]),
        ),
    ]
    cost = slowed["sign"]["best_ms"] + slowed["verify"]["best_ms"]
    row = Row(f"envelope v3 in Chromium, {sg['slowdown']}x CPU slowdown (ms)", figures(slowed))
    out.append(target(row, "sign + verify < 5 ms", cost < 5, "envelope sign + verify", cost))
    return out


def rows(r: dict[str, Any], quick: bool) -> tuple[list[Row], list[dict[str, Any]]]:
    out: list[Row] = []
    targets: list[dict[str, Any]] = []

    def target(row: Row, text: str, ok: bool | None, figure: str, value: Any) -> Row:
        row.target, row.result = text, _verdict(ok)
        targets.append({"figure": figure, "target": text, "value": value, "result": row.result})
        return row

    def section(title: str) -> None:
        out.append(Row(f"-- {title}"))

    section("1 intake: POST /api/signals, 2 contact devices per school")
    bare_intake = r.get("bare_intake_c50", {}).get("rate")
    for c in (1, 10, 50):
        key = f"intake_c{c}"
        if key not in r:
            continue
        row = _load_row(f"intake, {c} concurrent", r[key])
        bare = r.get(f"bare_intake_c{c}", {}).get("rate")
        if bare:
            row.ceiling = _vs(r[key], r[f"bare_intake_c{c}"])
        if c == 50 and bare:
            ratio = r[key]["rate"] / bare
            out.append(target(row, ">=80% bare", ratio >= 0.8, "intake rate vs bare", ratio))
            row2 = Row("intake p99, 50 concurrent", _ms(r[key]["p99_ms"]) + " ms")
            out.append(
                target(
                    row2, "p99 < 30 ms", r[key]["p99_ms"] < 30, "intake p99 at 50", r[key]["p99_ms"]
                )
            )
        else:
            out.append(row)
    if "intake_cold_c50" in r:
        row = _load_row("intake, 50 conc., each device unseen >60 s", r["intake_cold_c50"])
        if bare_intake:
            row.ceiling = _vs(r["intake_cold_c50"], r["bare_intake_c50"])
        row.target = "(info)"
        out.append(row)

    section("2 teacher opens: POST /api/signals/{id}/open, each a different signal")
    for c in (1, 10, 50):
        key = f"open_c{c}"
        if key not in r:
            continue
        row = _load_row(f"opens, {c} concurrent", r[key])
        bare = r.get(f"bare_claim_c{c}", {}).get("rate")
        if bare:
            row.ceiling = _vs(r[key], r[f"bare_claim_c{c}"])
        if c == 50 and bare:
            ratio = r[key]["rate"] / bare
            out.append(
                target(row, ">=80% bare claim", ratio >= 0.8, "open rate vs bare claim", ratio)
            )
        else:
            out.append(row)
    if "open_2dev_c50" in r:
        row = _load_row("opens, 50 conc., teacher has 2nd device", r["open_2dev_c50"])
        bare = r.get("bare_claim_2dev_c50", {}).get("rate")
        if bare:
            row.ceiling = _vs(r["open_2dev_c50"], r["bare_claim_2dev_c50"])
        row.target = "(info)"
        out.append(row)
    if "contention" in r:
        cont = r["contention"]
        row = Row(
            f"one-time open, {cont['clients']} clients at one signal",
            f"{cont['exactly_one_200']}/{cont['trials']} trials exactly one 200",
            _ms(cont["p50_ms"]),
            _ms(cont["p99_ms"]),
        )
        out.append(
            target(
                row,
                "one 200 per trial",
                cont["exactly_one_200"] == cont["trials"],
                "contention",
                cont["statuses"],
            )
        )

    section("3 fan-out: outbox worker vs sequential pywebpush webpush()")
    for tag, label, need in (("loopback", "bare loopback", 3), ("delay30ms", "service +30 ms", 30)):
        f = r.get("fanout", {}).get(tag)
        if not f:
            continue
        w, b = f["worker"], f["baseline"]
        wrow = Row(
            f"outbox worker, {label} ({w['delivered']}/{w['n']})",
            _rate(w["rate"]),
            srv=_pct(w["cpu_server"]),
            gen=f"fake {_pct(w['cpu_fake'])}",
        )
        if w["delivered"]:
            wrow.per_req = _ms(w["cpu_server"] * w["elapsed"] * 1000 / w["delivered"])
        out.append(wrow)
        out.append(
            Row(
                f"webpush() one by one, {label} ({b['delivered']}/{b['n']})",
                _rate(b["rate"]),
                gen=f"fake {_pct(b['cpu_fake'])}",
            )
        )
        out.append(
            target(
                Row(f"worker / one by one, {label}", f"{f['ratio']:.2f}x"),
                f">= {need}x",
                f["ratio"] >= need,
                f"fan-out ratio {label}",
                f["ratio"],
            )
        )

    section("4 send-to-push latency (201 to the fake service's received_at)")
    if "send_to_push" in r:
        sp = r["send_to_push"]
        row = Row(
            f"send-to-push ({sp['pushes_received']}/{sp['pushes_expected']} pushes)",
            "",
            _ms(sp["p50_ms"]),
            _ms(sp["p99_ms"]),
        )
        out.append(target(row, "p50 < 20 ms", sp["p50_ms"] < 20, "send-to-push p50", sp["p50_ms"]))

    section("5 first-load weight")
    if "weight" in r:
        wt = r["weight"]
        key = "wire" if wt["server_compresses"] else "gzip"
        compressed = wt[f"{key}_bytes_unique"]
        how = "as served" if wt["server_compresses"] else "gzip -6 (server sends raw)"
        missing = f", missing: {' '.join(wt['missing'])}" if wt["missing"] else ""
        out.append(
            Row(
                "requests: page + sw.js + role's screens / + precache",
                f"{wt['requests_page']} / {wt['requests_total']} "
                f"({wt['unique_files']} files{missing})",
            )
        )
        out.append(Row("bytes raw (unique files)", f"{wt['raw_bytes_unique'] / 1024:.1f} KB"))
        row = Row(
            f"bytes compressed, {how}, heaviest role ({wt['heaviest_role']})",
            f"{compressed / 1024:.1f} KB",
        )
        out.append(
            target(row, "< 40 KB", compressed < 40 * 1024, "first load compressed", compressed)
        )
        first = wt[f"{key}_bytes_first_visit"]
        out.append(
            Row(
                "first visit incl. sw install refetch",
                f"{first / 1024:.1f} KB (raw {wt['raw_bytes_first_visit'] / 1024:.1f} KB)",
            )
        )
        out.append(
            Row(
                "first visit per role",
                ", ".join(
                    f"{role} {v[f'{key}_bytes'] / 1024:.1f} KB" for role, v in wt["roles"].items()
                ),
            )
        )
        out.append(
            Row(
                "every app file (all roles and later screens)",
                f"{wt[f'app_{key}_bytes'] / 1024:.1f} KB in {wt['app_files']} files",
            )
        )

    if "keylog" in r:
        kl = r["keylog"]
        row = Row(
            f"key log of {kl['entries']} entries verified in Chromium, {kl['slowdown']}x CPU "
            "slowdown (best / median of 7)",
            f"{kl['best_ms']:.1f} / {kl['median_ms']:.1f} ms",
        )
        out.append(target(row, "< 50 ms", kl["best_ms"] < 50, "key log verify", kl["best_ms"]))

    if "signing" in r:
        out.extend(_signing_rows(r["signing"], target))

    section("6 memory")
    peaks = {k: v for k, v in r.get("peak_rss_kb", {}).items() if v}
    if peaks:
        real = {k: v for k, v in peaks.items() if not k.endswith("bare")}
        for name, label in (("intake", "intake run"), ("open", "open run")):
            if name in real:
                row = Row(f"server peak RSS (VmHWM), {label}", f"{real[name] / 1024:.1f} MB")
                out.append(
                    target(
                        row, "< 120 MB", real[name] < 120 * 1024, f"peak RSS {label}", real[name]
                    )
                )
        worst = max(real.values())
        where = max(real, key=lambda k: real[k])
        row = Row(f"server peak RSS, worst of all runs ({where})", f"{worst / 1024:.1f} MB")
        out.append(target(row, "< 120 MB", worst < 120 * 1024, "peak RSS worst", worst))

    section("7 growth: 10 concurrent, stored signals already in the database")
    growth = r.get("growth", {})
    for _, g in growth.items():
        out.append(_load_row(f"intake, {g['stored']:,} stored", g["intake"]))
        out.append(_load_row(f"opens, {g['stored']:,} stored", g["open"]))
    levels = sorted(growth, key=int)
    if levels:
        low, high = levels[0], levels[-1]
        for kind in ("intake", "open"):
            if int(high) < 100_000:
                out.append(
                    target(
                        Row(
                            f"{kind} p99 at 10^5 / at 10^3",
                            "not run (--quick stops at 10^4)" if quick else "",
                        ),
                        "<= 1.5x",
                        None,
                        f"growth {kind}",
                        None,
                    )
                )
                continue
            ratio = growth[high][kind]["p99_ms"] / growth[low][kind]["p99_ms"]
            row = Row(f"{kind} p99 at 10^5 / at 10^3", f"{ratio:.2f}x")
            out.append(target(row, "<= 1.5x", ratio <= 1.5, f"growth {kind} p99", ratio))

    section("8 ceilings: same stack, same load generator")
    if "healthz" in r:
        out.append(_load_row("GET /healthz, 50 conc. (bench client)", r["healthz"]))
    wrk = r.get("healthz_wrk", {})
    if "rate" in wrk:
        out.append(_load_row("GET /healthz, 50 conc. (wrk -t1)", wrk))
    if "bare_healthz" in r:
        out.append(_load_row("bare app GET /healthz, 50 conc.", r["bare_healthz"]))
    for c in (1, 10, 50):
        if f"bare_intake_c{c}" in r:
            out.append(_load_row(f"bare intake transaction, {c} conc.", r[f"bare_intake_c{c}"]))
    for c in (1, 10, 50):
        if f"bare_claim_c{c}" in r:
            out.append(_load_row(f"bare teacher claim, {c} conc.", r[f"bare_claim_c{c}"]))
    if "bare_claim_2dev_c50" in r:
        out.append(_load_row("bare claim + erase 2nd copy, 50 conc.", r["bare_claim_2dev_c50"]))
    if "healthz" in r and "intake_c50" in r:
        out.append(
            Row(
                "intake c50 / healthz c50 (bench client)",
                f"{r['intake_c50']['rate'] / r['healthz']['rate']:.0%}",
            )
        )
    return out, targets


HEAD = Row(
    "figure",
    "value",
    "p50 ms",
    "p99 ms",
    "srv CPU",
    "cpu/req",
    "gen CPU",
    "other",
    "runq",
    "vs ceiling",
    "target",
    "result",
)
WIDTHS = (46, 30, 8, 8, 8, 7, 10, 6, 5, 15, 17, 6)


def table(all_rows: list[Row]) -> str:
    lines = []

    def fmt(row: Row) -> str:
        cells = list(asdict(row).values())
        if row.figure.startswith("-- "):
            return row.figure
        parts = []
        for cell, width in zip(cells, WIDTHS, strict=True):
            text = str(cell)
            parts.append(text.ljust(width) if len(text) <= width else text)
        return " ".join(parts).rstrip()

    lines.append(fmt(HEAD))
    lines.append("-" * (sum(WIDTHS) + len(WIDTHS) - 1))
    lines += [fmt(row) for row in all_rows]
    return "\n".join(lines)


def median_of_runs(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each target over several whole runs: the median value and the majority verdict (for a
    threshold, the median run's verdict). Non-numeric values (the contention counts) are kept
    per run."""
    merged = []
    for per_run in zip(*runs, strict=True):
        values = [t["value"] for t in per_run]
        numeric = all(isinstance(v, int | float) for v in values)
        verdicts = [t["result"] for t in per_run]
        merged.append(
            {
                "figure": per_run[0]["figure"],
                "target": per_run[0]["target"],
                "values": values,
                "value": statistics.median(values) if numeric else "-",
                "result": max(set(verdicts), key=verdicts.count),
            }
        )
    return merged


def median_table(merged: list[dict[str, Any]]) -> str:
    def show(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
        return str(value)

    lines = [f"{'target figure':32} {'each run':34} {'median':>10}  {'target':18} result"]
    for t in merged:
        each = ", ".join(show(v) for v in t["values"])
        if len(each) > 34:
            each = each[:31] + "..."
        lines.append(
            f"{t['figure']:32} {each:34} {show(t['value']):>10}  {t['target']:18} {t['result']}"
        )
    return "\n".join(lines)
