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
    baselines: bool = typer.Option(True, help="also run the baselines (colour histogram, untrained encoder, "
                                              "category ablations)"),
    vector_device: str = typer.Option(None, help="auto, cpu or gpu: where FAISS searches (default: ASSOC_VECTOR_DEVICE or auto)"),
) -> None:
    """Score lookups against ground truth: overall, by edit, by mention kind and by top-level category."""
    from eval.report import summary_table
    from eval.runner import evaluate as run_eval
    from eval.runner import score_results

    if (index is None) == (results is None):
        fail("give either --index or --results", EXIT_USAGE)
    if index is not None:
        s = settings()
        report = run_eval(index, queries, out, baselines=baselines, progress=progress_bar("eval"), es=s.es(),
                          vector_device=vector_device or s.vector_device)
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
