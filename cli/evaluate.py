"""assoc eval: recall@k and the rest, with the reference baselines."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import EXIT_FAILURE, EXIT_USAGE, boundary, fail, progress_bar, settings


@boundary
def evaluate(
    queries: Path = typer.Option(..., help="clips.jsonl with ground truth"),
    out: Path = typer.Option(..., help="report directory (report.json, report.md, results*.jsonl)"),
    index: Path = typer.Option(None, help="index directory: run the lookups, then score them"),
    results: Path = typer.Option(None, help="score an existing results.jsonl instead of running lookups"),
    category: Path = typer.Option(None, help="score this category model (and its saved ablations) alone, without an "
                                             "index: clips decoded and read as a lookup reads them"),
    encoder: Path = typer.Option(None, help="with --category: the frame encoder directory the model was trained on"),
    baselines: bool = typer.Option(True, help="also run the baselines (colour histogram, untrained encoder, "
                                              "re-ranker and category ablations; the index's --compare-encoder "
                                              "runs are scored either way)"),
    vector_device: str = typer.Option(None, help="auto, cpu or gpu: where FAISS searches (default: ASSOC_VECTOR_DEVICE or auto)"),
    workers: int = typer.Option(1, min=1, help="with --index: look clips up in this many processes, each with its share "
                                               "of the CPU threads (each loads the index)"),
    resume: bool = typer.Option(True, help="with --index: reuse the clips' records that an earlier run into the same "
                                           "OUT kept (OUT/per-clip), when made with the same index, settings and "
                                           "code; --no-resume computes every clip again"),
    reranker: list[str] = typer.Option(None, help="with --index and --signals-cache: score this saved re-ranker "
                                                  "(NAME=DIR or DIR; repeatable) from the clips' signals, without "
                                                  "lookups: any number of re-rankers compared in seconds"),
    signals_cache: Path = typer.Option(None, help="with --reranker: where the clips' signals are kept (computed once, "
                                                  "resumable; assoc train reranker --signals-cache)"),
) -> None:
    """Score lookups against ground truth: overall, by edit, by mention kind and by top-level category (or, with
    --category, a category model alone)."""
    from eval.report import summary_table
    from eval.runner import evaluate as run_eval
    from eval.runner import score_results

    if sum(x is not None for x in (index, results, category)) != 1:
        fail("give one of --index, --results or --category", EXIT_USAGE)
    if reranker or signals_cache is not None:
        _score_rerankers(reranker or [], index, queries, out, signals_cache, workers)
        return
    if (category is None) != (encoder is None):
        fail("--category and --encoder go together (the model's frame vectors come from that encoder)", EXIT_USAGE)
    if category is not None:
        from eval.category import category_report_text, evaluate_category

        report = evaluate_category(category, encoder, queries, out, baselines=baselines,
                                   progress=progress_bar("eval category"))
        typer.echo(category_report_text(report))
        typer.echo(f"report: {out / 'report.md'}")
        for f in report["failures"]:
            typer.echo(f"failed: {f}", err=True)
        if report["failures"]:
            raise typer.Exit(EXIT_FAILURE)
        return
    if index is not None:
        s = settings()
        report = run_eval(index, queries, out, baselines=baselines, progress=progress_bar("eval"), es=s.es(),
                          vector_device=vector_device or s.vector_device, workers=workers, resume=resume)
    else:
        report = score_results(results, queries, out)
    typer.echo(summary_table(report["runs"]))
    if "category" in report:
        from eval.report import category_section

        typer.echo(category_section(report["category"]))
    for note in report.get("notes", []):
        typer.echo(f"note: {note}")
    typer.echo(f"report: {out / 'report.md'}")
    for f in report["failures"]:
        typer.echo(f"failed: {f}", err=True)
    if report["failures"]:
        raise typer.Exit(EXIT_FAILURE)


def _score_rerankers(items: list[str], index: Path | None, queries: Path, out: Path, signals_cache: Path | None,
                     workers: int) -> None:
    import json

    from assoc.jsonl import atomic_write_text, write_jsonl
    from assoc.rerank.offline import score_rerankers

    if not items or index is None or signals_cache is None:
        fail("--reranker goes with --index (the index the re-rankers were trained on) and --signals-cache", EXIT_USAGE)
    models = {}
    for item in items:
        name, sep, directory = item.partition("=")
        name, directory = (name, directory) if sep else (Path(item).name, item)
        if not name or not directory or name in models:
            fail(f"--reranker wants NAME=DIR or DIR with distinct names, got '{item}'", EXIT_USAGE)
        models[name] = directory
    s = settings()
    report = score_rerankers(models, index, queries, signals_cache, es=s.es(), progress=progress_bar("signals"),
                             catalog_root=s.catalog_root, workers=workers)
    out.mkdir(parents=True, exist_ok=True)
    for name, m in report["models"].items():  # each clip's best candidate, a file per re-ranker
        write_jsonl(out / f"top_{name}.jsonl", m.pop("top"))
    atomic_write_text(out / "report.json", json.dumps(report, indent=2, ensure_ascii=False))
    typer.echo("| re-ranker | clips | R@1 | R@10 | ECE | no-match P at R 0.80 / 0.85 / 0.90 / 0.95 | at its threshold P / R |")
    typer.echo("|---|---|---|---|---|---|---|")
    f = (lambda x: "-" if x is None else f"{x:.3f}")
    for name, m in report["models"].items():
        at = m["at_threshold"]
        typer.echo(f"| {name} | {m['clips']} | {f(m['recall@1'])} | {f(m['recall@10'])} | {f(m['ece'])} | "
                   + " / ".join(f(v) for v in m["no_match_precision_at_recall"].values())
                   + f" | {f(at['no_match_precision'])} / {f(at['no_match_recall'])} |")
    typer.echo(f"signals: {report['signals_cache']['reused']} clips read from {signals_cache}, "
               f"{report['signals_cache']['computed']} computed; report: {out / 'report.json'}")
    for failure in report["failures"]:
        typer.echo(f"failed: {failure}", err=True)
    if report["failures"]:
        raise typer.Exit(EXIT_FAILURE)
