"""assoc lookup: one clip, or a batch from a queries file."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import EXIT_FAILURE, EXIT_USAGE, boundary, fail, progress_bar, settings


def _signals(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


@boundary
def lookup(
    video: Path = typer.Argument(None, help="a clip to look up"),
    index: Path = typer.Option(..., help="index directory"),
    title: str = typer.Option("", help="the clip's title (used by the text signal)"),
    description: str = typer.Option("", help="the clip's description (used by the text signal)"),
    top_k: int = typer.Option(None, help="candidates to return (default: ASSOC_TOP_K or 10)"),
    signals: str = typer.Option(None, help="comma list of visual,text,category (default: all the index has)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    queries: Path = typer.Option(None, help="a clips.jsonl to look up in batch"),
    out: Path = typer.Option(None, help="results.jsonl to write in batch mode"),
    vector_device: str = typer.Option(None, help="auto, cpu or gpu: where FAISS searches (default: ASSOC_VECTOR_DEVICE or auto)"),
    scorer: str = typer.Option("auto", help="auto (the index's re-ranker when it has one, else RRF), rerank or rrf"),
) -> None:
    """Link a clip (or every clip of --queries) to the programs it was cut from."""
    from assoc.catalog import load_queries
    from assoc.index_reader import open_index
    from assoc.jsonl import write_jsonl
    from assoc.lookup import Associator, LookupSettings

    s = settings()
    ls = LookupSettings(fps=s.lookup_fps, max_frames=s.lookup_max_frames, neighbours=s.neighbours,
                        top_k=top_k or s.top_k, threshold=s.threshold, catalog_root=s.catalog_root,
                        scan_cache_mb=s.scan_cache_mb)
    if video is not None and queries is not None:
        fail("give either a VIDEO or --queries, not both", EXIT_USAGE)
    if queries is not None and out is None:
        fail("--queries needs --out RESULTS.jsonl", EXIT_USAGE)
    lk = Associator(open_index(index, es=s.es(), vector_device=vector_device or s.vector_device), ls, _signals(signals),
                    scorer)
    if queries is None:
        if video is None and (lk.needs_video or not title):
            fail("give a VIDEO (or, with --signals text, a --title), or --queries", EXIT_USAGE)
        result = lk.lookup_video(video, title=title, description=description)
        if as_json:
            typer.echo(result.model_dump_json(indent=2))
            return
        typer.echo(f"match: {result.match or 'no match'} (confidence {result.confidence:.3f})")
        if result.category.levels:
            typer.echo("category: " + " > ".join(f"{name} ({p:.2f})" for name, p in result.category.levels))
        for i, c in enumerate(result.candidates, 1):
            where = f"{c.episode_id} {c.start:.1f}-{c.end:.1f}s" if c.episode_id is not None else ""
            typer.echo(f"{i:>3}. {c.program_id} {c.title}  score {c.score:.3f}  {where}")
        return
    clips, rejected = load_queries(queries)
    for e in rejected:
        typer.echo(f"rejected: {e}", err=True)
    results, failures = lk.lookup_clips(queries, clips, progress=progress_bar("lookup"))
    write_jsonl(out, results)
    for f in failures:
        typer.echo(f"failed: {f}", err=True)
    typer.echo(f"{len(results)} results written to {out} ({len(failures)} failed, {len(rejected)} lines rejected)")
    if failures or rejected:
        raise typer.Exit(EXIT_FAILURE)
