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
                                              "category ablations)"),
    vector_device: str = typer.Option(None, help="auto, cpu or gpu: where FAISS searches (default: ASSOC_VECTOR_DEVICE or auto)"),
    workers: int = typer.Option(1, min=1, help="with --index: look clips up in this many processes, each with its share "
                                               "of the CPU threads (each loads the index)"),
    resume: bool = typer.Option(True, help="with --index: reuse the clips' records that an earlier run into the same "
                                           "OUT kept (OUT/per-clip), when made with the same index, settings and "
                                           "code; --no-resume computes every clip again"),
) -> None:
    """Score lookups against ground truth: overall, by edit, by mention kind and by top-level category (or, with
    --category, a category model alone)."""
    from eval.report import summary_table
    from eval.runner import evaluate as run_eval
    from eval.runner import score_results

    if sum(x is not None for x in (index, results, category)) != 1:
        fail("give one of --index, --results or --category", EXIT_USAGE)
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
