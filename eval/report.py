"""Writing report.json and report.md from scored runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

from assoc.jsonl import atomic_write_text


def _fmt(v) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(runs: dict[str, dict]) -> str:
    """One row per run: the headline figures."""
    headers = ["run", "n", "R@1", "R@5", "R@10", "R@50", "MRR", "nDCG@10", "loc.", "open P", "open R", "open F1", "ECE"]
    rows = []
    for name, s in runs.items():
        o = s["overall"]
        rows.append([name, o["n"], o["recall@1"], o["recall@5"], o["recall@10"], o["recall@50"], o["mrr"],
                     o["ndcg@10"], o["localisation"]["of_correct_top1"], o["open_set"]["precision"],
                     o["open_set"]["recall"], o["open_set"]["f1"], o.get("ece", float("nan"))])
    return table(headers, rows)


def breakdown_table(runs: dict[str, dict], key: str) -> str:
    names = list(runs)
    groups = list(next(iter(runs.values()))[key]) if runs else []
    chance = any("chance@1" in v for v in next(iter(runs.values()))[key].values()) if runs else False
    headers = ([key.replace("by_", ""), "n"] + (["chance R@1"] if chance else []) + [f"{n} R@1" for n in names]
               + [f"{n} R@10" for n in names])
    rows = []
    for g in groups:
        first = runs[names[0]][key][g]
        rows.append([g, first["n"]] + ([first.get("chance@1") if first.get("chance@1") is not None else "-"]
                                       if chance else [])
                    + [runs[n][key].get(g, {}).get("recall@1", float("nan")) for n in names]
                    + [runs[n][key].get(g, {}).get("recall@10", float("nan")) for n in names])
    return table(headers, rows)


def category_section(cat: dict, title: str | None = None, timed: str = "audio, text tokens, model") -> str:
    rows = [[name, m["n"], *m["hit@1"], m["gap@20"], m["gap@20_all_levels"], m["hP"], m["hR"], m["hF"]]
            for name, m in cat["models"].items()]
    ms = cat.get("inference_ms_per_clip", {})
    title = title or f"## Category (all {cat['clips']} labelled clips, {cat['open_set_clips']} of them open-set)"
    return (f"{title}\n\n"
            + table(["model", "n", "hit@1 L1", "hit@1 L2", "hit@1 L3", "GAP@20 leaf", "GAP@20 all", "hP", "hR", "hF"], rows)
            + (f"\n\ninference per clip ({timed}): mean {ms['mean']} ms, p50 {ms['p50']} ms" if ms else ""))


def write_report(out_dir: str | Path, report: dict) -> None:
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "report.json", json.dumps(report, ensure_ascii=False, indent=2, default=str))
    runs = report["runs"]
    parts = [f"# assoc evaluation\n\nindex: `{report['index']}`  \nqueries: `{report['queries']}`  \n"
             f"clips: {report['clips']} ({report['open_set_clips']} open-set), decode failures: {len(report['failures'])}\n",
             "## Overall (recall and localisation on in-catalog clips; open set and ECE on all clips)\n",
             summary_table(runs), ""]
    if report.get("reranker"):
        r = report["reranker"]
        parts.append(f"- fused: the index's {r.get('kind', '')} re-ranker {r['checksum']} (trained on val), open-set "
                     f"threshold {r['threshold']:.4f}; fused_rrf: reciprocal rank fusion of the same signals; "
                     "fused_no_category: the re-ranker without the category-prior features; fused_no_aux_visual: "
                     "without the auxiliary visual signals; fused_no_text: without the clip's title and description "
                     "(every visual signal and the category prior: the visual path alone)"
                     + ("; fused_no_verify: without the verification against the episodes" if "fused_no_verify" in runs
                        else "")
                     + ("; fused_no_verify_frames: without the number of frames each verification compared"
                        if "fused_no_verify_frames" in runs else "")
                     + ("; fused_no_verify_detail: without the fits checked on the pictures' detail"
                        if "fused_no_verify_detail" in runs else "")
                     + ("; fused_no_season_marker: without whether the season the title names is the program's"
                        if "fused_no_season_marker" in runs else ""))
    for note in report.get("notes", []):
        parts.append(f"- {note}")
    if "category" in report:
        parts += ["", category_section(report["category"])]
    for key in ("by_edit", "by_mention", "by_mention_group", "by_name", "by_category"):
        if all(key in r for r in runs.values()):  # reports written before a breakdown existed lack it
            parts += ["", f"## {key.replace('_', ' ').capitalize()} (in-catalog clips)\n", breakdown_table(runs, key)]
    atomic_write_text(out_dir / "report.md", "\n".join(parts) + "\n")
