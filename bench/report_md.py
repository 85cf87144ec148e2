"""Render benchmark results (bench/run.py) as the figures part of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _ms(x: float) -> str:
    return f"{x:,.1f} ms" if x < 100 else f"{x:,.0f} ms"


def _ratio(value: float, floor: float) -> str:
    return f"{value / floor:,.1f}×" if floor else "—"


def figures(r: dict[str, Any]) -> str:
    m, d = r["machine"], r["dataset"]
    lines = [
        f"Run of {r['started'][:16].replace('T', ' ')} UTC at scale **{d['accounts']:,} accounts × {d['months']} "
        f"months** ({d['usage_rows']:,} usage rows, {d['csv_mb']:.0f} MiB of CSV; generated in {d['seconds']:.0f} s).",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, PostgreSQL {m.get('postgresql', '?')}, "
        f"Python {m['python']}, {m['os']}.",
        "",
        "| what | figure | floor | ratio to floor | target |",
        "|---|---|---|---|---|",
    ]
    sp, cf = r["sync_pg"], r["copy_floor"]
    lines.append(
        f"| sync, PostgreSQL (first load, whole command){_split(sp)} | {sp['rows_per_s']:,.0f} rows/s "
        f"({sp['seconds']:.0f} s), peak {sp['peak_mib']} MiB | COPY of the same CSV: {cf['rows_per_s']:,.0f} rows/s "
        f"({cf['seconds']:.1f} s) | {sp['seconds'] / cf['seconds']:.1f}× the COPY time | ≤ 3× COPY, < 500 MiB |"
    )
    if sp.get("load_seconds"):
        w = cf.get("write")
        write, write_ratio = "", ""
        if w:
            write = (
                f"; the same rows, typed, written straight into an empty table shaped like usage_monthly (binary COPY,"
                f" its {w['indexes']} indexes): {w['seconds']:.1f} s ({w['seconds'] / cf['seconds']:.1f}× COPY)"
            )
            write_ratio = f"; {sp['load_seconds'] / w['seconds']:.1f}× that write"
        lines.append(
            f"| sync, PostgreSQL (first load: validation and load only, without the scoring step) | "
            f"{sp['load_seconds']:.1f} s | COPY: {cf['seconds']:.1f} s{write} | "
            f"{sp['load_seconds'] / cf['seconds']:.1f}× the COPY time{write_ratio} | ≤ 3× COPY |"
        )
    lines.append(
        f"| sync, PostgreSQL (same export again, changes nothing) | {sp['reload_rows_per_s']:,.0f} rows/s "
        f"({sp['reload_seconds']:.0f} s) | | | |"
    )
    if "sync_pg_correction" in r:
        c = r["sync_pg_correction"]
        lines.append(
            f"| sync, PostgreSQL (the same export with one usage value corrected){_split(c)}; "
            f"{_count(c.get('accounts'), 'account')} read again (those the load wrote), "
            f"{_count(c['scored'], 'account-month')} of theirs scored again | {c['seconds']:.0f} s "
            f"| | | |"
        )
    if "sync_sqlite" in r:
        ss = r["sync_sqlite"]
        lines.append(
            f"| sync, SQLite (first load, whole command){_split(ss)} | {ss['rows_per_s']:,.0f} rows/s "
            f"({ss['seconds']:.0f} s), peak {ss['peak_mib']} MiB | | | ≤ 60 s, < 500 MiB |"
        )
        lines.append(
            f"| sync, SQLite (same export again) | {ss['reload_rows_per_s']:,.0f} rows/s "
            f"({ss['reload_seconds']:.0f} s) | | | |"
        )
    if "usage" not in r:  # a --sync-only or --scores-only run
        return "\n".join([*lines, *score_lines(r.get("scores")), "", f"Whole run: {_duration(r['total_seconds'])}."])
    u, fq = r["usage"], r["floor_query"]
    s1 = u["single"]
    lines.append(
        f"| `/usage <account>` end to end, one client (n={s1['n']}) | p50 {_ms(s1['p50'])}, p95 {_ms(s1['p95'])}, "
        f"p99 {_ms(s1['p99'])} | one indexed query for the account's rows: p50 {_ms(fq['p50'])}, p99 {_ms(fq['p99'])} "
        f"| p50 {_ratio(s1['p50'], fq['p50'])} | p50 ≤ 30 ms, p99 ≤ 100 ms |"
    )
    lines.append(
        f"| `/usage` acknowledgement, one client | p50 {_ms(s1['ack']['p50'])}, max {_ms(s1['ack']['max'])} "
        "| | | < 3 s |"
    )
    ld = u["load"]
    lines.append(
        f"| `/usage` under load ({ld['clients']} concurrent clients, {ld['seconds']:.0f} s) | {ld['rps']:,.0f} "
        f"requests/s, {ld['errors']} errors; end to end p50 {_ms(ld['e2e']['p50'])}, p99 {_ms(ld['e2e']['p99'])} "
        f"| | | ≥ 100 requests/s, 0 errors |"
    )
    lines.append(
        f"| `/usage` acknowledgement under load | p99 {_ms(ld['ack']['p99'])}, max {_ms(ld['ack']['max'])} "
        "| | | < 3 s |"
    )
    rp = r["report"]
    lines.append(
        f"| `report` for one account, in-process (queries + scoring + JSON) | p50 {_ms(rp['all']['p50'])}, "
        f"p95 {_ms(rp['all']['p95'])}; largest accounts ({rp['largest_rows']:,} usage rows) p50 "
        f"{_ms(rp['largest']['p50'])} | | | < 20 ms |"
    )
    dg = r["digest"]
    lines.append(
        f"| digest: compose + render every TAM's digest | {dg['seconds_best']:.2f} s "
        f"(median {dg['seconds_median']:.2f} s) for {dg['tams']} TAMs, {dg['instances']:,} Unknown instances, "
        f"{dg['messages']:,} messages | | | < 10 s |"
    )
    for key, label in (("search_pg", "PostgreSQL"), ("search_sqlite", "SQLite")):
        if key in r:
            se = r[key]
            lines.append(
                f"| metric search, {label} ({se['definitions']:,} definitions, n={se['n']}) | p50 {_ms(se['p50'])}, "
                f"p95 {_ms(se['p95'])}; import + index {se['import_seconds']:.1f} s | | | "
                "p95 ≤ 20 ms; import + index ≤ 10 s |"
            )
    if "home" in r:
        h = r["home"]
        lines.append(
            f"| Home tab for the largest portfolio ({h['accounts']} accounts), server time | first build p95 "
            f"{_ms(h['cold']['p95'])}, cached p95 {_ms(h['cached']['p95'])} | | | ≤ 300 ms |"
        )
    lines += score_lines(r.get("scores"))
    lines += [
        "",
        f"Whole run: {_duration(r['total_seconds'])}. Raw results: `bench/out/results-{r['scale']}.json`.",
    ]
    return "\n".join(lines)


def score_lines(sc: dict[str, Any] | None) -> list[str]:
    """The stored-scores rows: each figure beside the plain SELECT of what it reads, measured in the same run."""
    if not sc:
        return []
    rs = sc["rescore"]
    out = [
        f"| stored scores: rescore of every account ({rs['accounts']:,} accounts × {rs['months']} months, "
        f"{rs['rows']:,} account-months; the sync's scoring step) | {rs['seconds']:.1f} s | SELECT of the "
        f"{rs['floor_rows']:,} usage rows it scores: {rs['floor_seconds']:.1f} s | "
        f"{_ratio(rs['seconds'], rs['floor_seconds'])} | |"
    ]
    for key, label, target in (
        ("home_admin", "admin Home, all accounts, first open after a sync", "≤ 1 s"),
        ("home_manager", "manager Home, their team, first open after a sync", "≤ 1 s"),
    ):
        h = sc[key]
        out.append(
            f"| {label} ({h['accounts']:,} accounts), server time | p50 {_ms(h['ms']['p50'])}, max "
            f"{_ms(h['ms']['max'])} | SELECT of colour, score and utilization of their {h['floor_rows']:,} "
            f"stored scores: p50 "
            f"{_ms(h['floor_ms']['p50'])} | {_ratio(h['ms']['p50'], h['floor_ms']['p50'])} | {target} |"
        )
    for key, label in (
        ("team_admin", "`/usage team` for an admin, all accounts, first page, first ask after a sync"),
        ("team_admin_filtered", "the same with a colour filter"),
        ("team_admin_tier", "the same with a tier and a flag filter"),
    ):
        if key not in sc:  # results of a run before this row
            continue
        t = sc[key]
        label += f" (`{t['filter']}`)" if t["filter"] else ""
        out.append(
            f"| {label}, server time | p50 {_ms(t['ms']['p50'])}, max {_ms(t['ms']['max'])} | SELECT of colour, "
            f"score and utilization of the {t['floor_rows']:,} stored scores: p50 {_ms(t['floor_ms']['p50'])} | "
            f"{_ratio(t['ms']['p50'], t['floor_ms']['p50'])} | ≤ 1 s |"
        )
    a = sc["alerts"]
    out.append(
        f"| alerts after a sync ({a['alerts']:,} alerts) | p50 {_ms(a['ms']['p50'])} | "
        f"SELECT of colour, score and utilization of two months' "
        f"stored scores ({a['floor_rows']:,}): p50 {_ms(a['floor_ms']['p50'])} | "
        f"{_ratio(a['ms']['p50'], a['floor_ms']['p50'])} | ≤ 5 s |"
    )
    return out


def write_docs(results: dict[str, Any], path: Path, *, quick: bool, section: str = "bench") -> None:
    """Replace the figures between the markers (the full run), or the quick-run section, keeping the prose.

    `section` names other marker pairs: "bench-sync" for a `--sync-only` run."""
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    begin, end = (BEGIN, END) if not quick else ("<!-- bench-quick:begin -->", "<!-- bench-quick:end -->")
    if section != "bench":
        begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _old, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{figures(results)}\n{end}{tail}", encoding="utf-8")


def _duration(seconds: float) -> str:
    """'57 seconds', '1 minute', '24 minutes'."""
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _count(n: int | None, noun: str) -> str:
    return "?" if n is None else f"{n:,} {noun}{'' if n == 1 else 's'}"


def _split(sync: dict[str, Any]) -> str:
    """'; load 25.1 s + scoring 140.2 s' when the sync said where its time went."""
    if sync.get("load_seconds") is None:
        return ""
    return f": load {sync['load_seconds']:.1f} s + scoring step {sync.get('scoring_seconds') or 0:.1f} s"
