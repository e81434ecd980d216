"""assoc demo and assoc bench."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import boundary, progress_bar

bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)


@boundary
def demo(
    out: Path = typer.Option(Path("data/generated/demo"), help="working directory for the demo"),
    preset: str = typer.Option("small", help="universe preset"),
    seed: int = typer.Option(0, help="universe seed"),
    fresh: bool = typer.Option(False, help="regenerate the universe even if one with this preset and seed exists"),
    encoder_epochs: int = typer.Option(1, help="MoCo epochs of the demo's short encoder training"),
    workers: int = typer.Option(2, min=1, help="processes for the re-ranker's signals and the eval's lookups"),
) -> None:
    """Run the whole pipeline on a small universe (synth, encoder, category, index, re-ranker, eval) and print
    the results table with the baselines and ablations."""
    from eval.demo import run_demo
    from eval.report import breakdown_table, category_section, summary_table

    report = run_demo(out, preset=preset, seed=seed, fresh=fresh, encoder_epochs=encoder_epochs, workers=workers,
                      log=lambda m: typer.echo(m, err=True), progress=progress_bar)
    typer.echo(summary_table(report["runs"]))
    typer.echo("")
    if "category" in report:
        typer.echo(category_section(report["category"]))
        typer.echo("")
    typer.echo(breakdown_table(report["runs"], "by_mention"))
    typer.echo("")
    typer.echo(breakdown_table(report["runs"], "by_edit"))
    for note in report["notes"]:
        typer.echo(f"note: {note}")
    typer.echo("stage seconds: " + ", ".join(f"{k} {v}" for k, v in report["demo_seconds"].items()))
    typer.echo(f"full report: {out / 'report' / 'report.md'}")


@bench_app.command("decode")
@boundary
def bench_decode(
    catalog: Path = typer.Option(..., help="catalog.jsonl whose episodes are decoded"),
    fps: float = typer.Option(1.0, help="sampling rate (the index's keyframe rate by default)"),
    max_frames: int = typer.Option(100_000, help="frames per video at most"),
    short_side: int = typer.Option(144, help="decode so the short side is at most about this"),
    limit: int = typer.Option(None, help="episodes at most"),
) -> None:
    """Decoding throughput of the frame-sampling path (frames per second)."""
    from eval.benchmarks import decode_throughput

    typer.echo(json.dumps(decode_throughput(catalog, fps, max_frames, short_side, limit), indent=2))


@bench_app.command("text")
@boundary
def bench_text(
    out: Path = typer.Option(..., help="working directory (catalog and index are written here)"),
    programs: int = typer.Option(60_000, help="programs in the synthetic text-only catalog"),
    queries: int = typer.Option(1000, help="clip titles to look up"),
    semantic: bool = typer.Option(True, help="include the semantic model"),
    seed: int = typer.Option(0, help="universe seed"),
) -> None:
    """Text path at scale: tantivy build time, query latency p50/p99, memory."""
    from eval.benchmarks import text_scale

    typer.echo(json.dumps(text_scale(out, programs, queries, semantic, seed), indent=2))


@bench_app.command("vectors")
@boundary
def bench_vectors(
    programs: int = typer.Option(60_000, help="programs (clusters)"),
    keyframes: int = typer.Option(100, help="keyframes per program"),
    dim: int = typer.Option(256, help="vector dimension (the encoder's)"),
    nlist: int = typer.Option(4096, help="IVF lists"),
    codec: str = typer.Option("SQ8", help="IVF codes: SQ8, PQ32, Flat..."),
    nprobe: str = typer.Option("8,16,32,64", help="comma list of nprobe values to measure"),
    clips: int = typer.Option(50, help="32-frame clip queries"),
    hnsw: bool = typer.Option(False, help="an HNSW coarse quantizer (fast list assignment with many lists)"),
    train_size: int = typer.Option(200_000, help="keyframes the IVF quantizer is trained on"),
    ef_search: int = typer.Option(128, help="beam width of the HNSW quantizer (at add and at search)"),
    refine: str = typer.Option("0", help="comma list: re-score the refine x 10 best by code with exact float16 "
                                         "vectors (0: off)"),
    seed: int = typer.Option(0, help="seed"),
) -> None:
    """Keyframe index at scale: build time, memory, clip query latency and recall@10 against exact search."""
    from eval.scale import vector_scale

    result = vector_scale(programs, keyframes, dim, nlist, codec, tuple(int(x) for x in nprobe.split(",")), clips,
                          train_size=train_size, seed=seed, hnsw=hnsw, ef_search=ef_search,
                          refines=tuple(int(x) for x in refine.split(",")))
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("serve")
@boundary
def bench_serve(
    queries: Path = typer.Option(..., help="clips.jsonl whose clips are posted (cycled if fewer than --requests)"),
    index: Path = typer.Option(None, help="start `assoc serve` on this index (on a free loopback port)"),
    url: str = typer.Option(None, help="or: the URL of a running service"),
    requests: int = typer.Option(200, help="requests in all"),
    concurrency: int = typer.Option(200, help="requests in flight at once"),
    media_root: Path = typer.Option(None, help="the service's media root (default: the queries file's folder)"),
    api_key: str = typer.Option(None, help="X-API-Key to send (and to start the service with)"),
    upload: bool = typer.Option(False, help="upload each clip as multipart instead of naming its file"),
) -> None:
    """Load test of the lookup service: errors, latency p50/p99, throughput, per-stage server time."""
    from cli.common import EXIT_FAILURE
    from eval.load import load_test

    result = load_test(queries, requests, concurrency, url, index, media_root, api_key, upload)
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    if result["errors"]:
        raise typer.Exit(EXIT_FAILURE)


@bench_app.command("lookup")
@boundary
def bench_lookup(
    index: Path = typer.Option(..., help="index directory"),
    queries: Path = typer.Option(..., help="clips.jsonl"),
    clips: int = typer.Option(50, help="clips to time"),
    vector_device: str = typer.Option("cpu", help="auto, cpu or gpu"),
    scan_cache_mb: float = typer.Option(None, help="episodes' scan frames kept between clips, in MB; 0: none "
                                        "(default: ASSOC_SCAN_CACHE_MB, 256)"),
    episode_frames: str = typer.Option("use", help="the index's stored episode frames: use, ignore (verification "
                                                   "decodes the videos) or compare (each clip looked up both ways, "
                                                   "side by side, with how many results were identical)"),
) -> None:
    """Lookup latency per clip by stage, as a ratio to decoding the same clip alone."""
    from cli.common import settings
    from eval.benchmarks import lookup_stages

    s = settings()
    mb = s.scan_cache_mb if scan_cache_mb is None else scan_cache_mb
    typer.echo(json.dumps(lookup_stages(index, queries, clips, s.es(), vector_device, mb, episode_frames), indent=2))
