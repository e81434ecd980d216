"""Changing the programs of an index without a full rebuild: `assoc index add` and `assoc index remove`.

The index is copied into a temporary sibling, changed there and renamed into place, so readers see
the old index or the new one, never a mix. FAISS ids are keyframe-table rows: removal deletes the
vectors (flat and IVF indexes support remove_ids) and leaves the rows as unreachable orphans; added
keyframes get new rows. An IVF index keeps its trained quantizer: once the keyframes added since
training exceed half of those it was trained on, the manifest says a rebuild is recommended.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from assoc import video_stamps
from assoc.catalog import Catalog
from assoc.encoders import load_encoder
from assoc.errors import InputError
from assoc.index_build import (
    BASELINES_DIR,
    ENCODER_DIR,
    PROGRAMS_FILE,
    VISUAL_DIR,
    BuildReport,
    BuildSettings,
    index_episodes,
    store_episode_frames,
)
from assoc.jsonl import read_jsonl_strict, write_jsonl
from assoc.schema import Program
from assoc.text.semantic import SemanticModel, program_text
from assoc.text.signal import SEMANTIC_FILE, SEMANTIC_IDS, TANTIVY_DIR, text_doc
from indexes.keyframes import KeyframeTable
from indexes.manifest import atomic_directory, read_manifest, write_manifest
from indexes.text import open_text_index
from indexes.vector import load_vector_index, save_vector_index

REBUILD_FRACTION = 0.5


@dataclass
class UpdateReport:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    keyframes_added: int = 0
    keyframes_removed: int = 0
    failures: list[dict] = field(default_factory=list)
    rebuild_recommended: bool = False


def _copy_into(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, dirs_exist_ok=True)
    (dst / "manifest.json").unlink()


def _vector_dirs(manifest: dict) -> dict[str, Path]:
    dirs = {"visual": Path(VISUAL_DIR)}
    dirs.update({name: Path(BASELINES_DIR) / name for name in manifest.get("baselines", [])})
    return dirs


def _drop(tmp: Path, manifest: dict, program_ids: set[str], report: UpdateReport, es: dict | None) -> None:
    """Remove these programs' vectors, text and embeddings inside the copy `tmp`."""
    if "visual" in manifest["signals"]:
        table = KeyframeTable.load(tmp / VISUAL_DIR)
        gone = [i for i, p in enumerate(table.programs) if p in program_ids]
        ids = np.flatnonzero(np.isin(table.program_idx, gone)).astype(np.int64)
        for name, d in _vector_dirs(manifest).items():
            vectors = load_vector_index(tmp / d)
            removed = vectors.remove(ids)
            save_vector_index(vectors, tmp / d)
            if name == "visual":
                report.keyframes_removed += removed
        video_stamps.update(tmp / VISUAL_DIR, dropped_programs=program_ids)
        if "episode_frames" in manifest:
            from assoc import episode_frames

            section = episode_frames.drop(tmp / episode_frames.FRAMES_DIR, program_ids)
            manifest["episode_frames"] = dict(section, mode=manifest["episode_frames"].get("mode"))
    if "text" in manifest["signals"]:
        text = open_text_index(manifest["text"]["text_index"], tmp / TANTIVY_DIR, **(es or {}))
        text.remove(sorted(program_ids))
        if "semantic" in manifest["text"]:
            ids_ = json.loads((tmp / SEMANTIC_IDS).read_text())
            keep = [i for i, p in enumerate(ids_) if p not in program_ids]
            np.save(tmp / SEMANTIC_FILE, np.load(tmp / SEMANTIC_FILE)[keep])
            (tmp / SEMANTIC_IDS).write_text(json.dumps([ids_[i] for i in keep]))


def _manifest_body(manifest: dict) -> dict:
    """The manifest's own content, without what write_manifest stamps again (version, date, file sums)."""
    return {k: v for k, v in manifest.items() if k not in ("format_version", "created", "files")}


def _drop_reranker(tmp: Path, body: dict, section: dict) -> None:
    """Remove the re-ranker of the index copy `tmp` (its features no longer mean what it learned), noting
    its checksum in the changed `section`."""
    from assoc.index_build import RERANKER_DIR

    if "reranker" in body:
        shutil.rmtree(tmp / RERANKER_DIR, ignore_errors=True)
        section["dropped_reranker"] = body.pop("reranker")["checksum"]


def _finish(tmp: Path, manifest: dict, programs: list[Program], report: UpdateReport) -> None:
    write_jsonl(tmp / PROGRAMS_FILE, programs)
    counts = dict(manifest.get("counts", {}), programs=len(programs))
    if "visual" in manifest["signals"]:
        counts["keyframes"] = load_vector_index(tmp / VISUAL_DIR).ntotal
        trained_on = manifest.get("trained_on_keyframes") or counts["keyframes"]
        added_since = manifest.get("keyframes_added_since_training", 0) + report.keyframes_added
        manifest["keyframes_added_since_training"] = added_since
        manifest["trained_on_keyframes"] = trained_on
        is_ivf = (manifest.get("backends", {}).get("vector") or {}).get("name") == "ivf"
        report.rebuild_recommended = is_ivf and added_since > REBUILD_FRACTION * trained_on
        manifest["rebuild_recommended"] = report.rebuild_recommended
    manifest["counts"] = counts
    history = manifest.get("updates", [])
    history.append({"added": report.added, "removed": report.removed})
    manifest["updates"] = history[-20:]
    body = _manifest_body(manifest)
    write_manifest(tmp, body)


def remove_programs(index_path: str | Path, program_ids: list[str], es: dict | None = None) -> UpdateReport:
    """Remove programs (all must be in the index: nothing is changed otherwise)."""
    index_path = Path(index_path)
    manifest = read_manifest(index_path)
    programs = read_jsonl_strict(index_path / PROGRAMS_FILE, Program)
    known = {p.program_id for p in programs}
    unknown = [p for p in program_ids if p not in known]
    if unknown:
        raise InputError(f"not in index {index_path}: {', '.join(unknown)}")
    report = UpdateReport(removed=list(dict.fromkeys(program_ids)))
    with atomic_directory(index_path) as tmp:
        _copy_into(index_path, tmp)
        _drop(tmp, manifest, set(program_ids), report, es)
        _finish(tmp, manifest, [p for p in programs if p.program_id not in set(program_ids)], report)
    return report


def add_programs(index_path: str | Path, catalog: Catalog, es: dict | None = None,
                 progress: Callable[[int, int, str], None] | None = None, workers: int = 1) -> UpdateReport:
    """Add (or replace) every program of `catalog`, embedding with the index's own encoder (in `workers`
    processes when more than 1)."""
    index_path = Path(index_path)
    manifest = read_manifest(index_path)
    current = read_jsonl_strict(index_path / PROGRAMS_FILE, Program)
    incoming = {p.program_id: p for p in catalog.programs}
    report = UpdateReport(added=list(incoming))
    settings = BuildSettings(**{k: v for k, v in manifest.get("settings", {}).items()
                                if k in BuildSettings.__dataclass_fields__})
    with atomic_directory(index_path) as tmp:
        _copy_into(index_path, tmp)
        replaced = {p.program_id for p in current} & set(incoming)
        if replaced:
            _drop(tmp, manifest, replaced, report, es)
        if "visual" in manifest["signals"]:
            _add_visual(tmp, manifest, catalog, settings, report, progress, workers)
        if "text" in manifest["signals"]:
            text = open_text_index(manifest["text"]["text_index"], tmp / TANTIVY_DIR, **(es or {}))
            for f in text.add(text_doc(p) for p in catalog.programs):
                report.failures.append({"program_id": f.program_id, "reason": f.reason})
            if "semantic" in manifest["text"]:
                model = SemanticModel(manifest["text"]["semantic"]["model"])
                new = model.encode([program_text(p.title, p.aliases, p.characters, p.cast, p.description)
                                    for p in catalog.programs])
                ids_ = json.loads((tmp / SEMANTIC_IDS).read_text()) + list(incoming)
                np.save(tmp / SEMANTIC_FILE, np.concatenate([np.load(tmp / SEMANTIC_FILE), new]))
                (tmp / SEMANTIC_IDS).write_text(json.dumps(ids_))
        programs = [p for p in current if p.program_id not in incoming] + catalog.programs
        _finish(tmp, manifest, programs, report)
    return report


def _add_visual(tmp: Path, manifest: dict, catalog: Catalog, settings: BuildSettings, report: UpdateReport,
                progress, workers: int = 1) -> None:
    encoder = load_encoder(tmp / ENCODER_DIR)
    baselines = {name: load_encoder(tmp / BASELINES_DIR / name / ENCODER_DIR) for name in manifest.get("baselines", [])}
    table = KeyframeTable.load(tmp / VISUAL_DIR)
    vectors = {name: load_vector_index(tmp / d) for name, d in _vector_dirs(manifest).items()}
    before = vectors["visual"].ntotal
    build = BuildReport()
    index_episodes(catalog, catalog.programs, encoder, baselines, table, vectors["visual"],
                   {n: vectors[n] for n in baselines}, settings, build, progress, workers)
    if "episode_frames" in manifest:
        mode = manifest["episode_frames"].get("mode", "none")
        manifest["episode_frames"] = store_episode_frames(catalog, catalog.programs, tmp, mode, build, progress, workers)
    report.failures += build.failures
    report.keyframes_added = vectors["visual"].ntotal - before
    table.save(tmp / VISUAL_DIR)
    video_stamps.update(tmp / VISUAL_DIR, added=build.video_stamps)
    for name, d in _vector_dirs(manifest).items():
        save_vector_index(vectors[name], tmp / d)


def set_category_model(index_path: str | Path, model_dir: str | Path) -> dict:
    """Put a (re)trained category model into an index without touching its vectors or text.

    The model must have been trained on the index encoder's frame vectors."""
    from assoc.index_build import CATEGORY_DIR, add_category_model

    index_path = Path(index_path)
    manifest = read_manifest(index_path)
    if "visual" not in manifest["signals"]:
        raise InputError(f"{index_path}: a category model needs the visual signal (it reads the encoder's vectors)")
    with atomic_directory(index_path) as tmp:
        _copy_into(index_path, tmp)
        shutil.rmtree(tmp / CATEGORY_DIR, ignore_errors=True)
        section = add_category_model(tmp, model_dir, load_encoder(tmp / ENCODER_DIR))
        body = _manifest_body(manifest)
        body["category"] = section
        _drop_reranker(tmp, body, section)  # its category-prior features came from the old model
        body["signals"] = [s for s in manifest["signals"] if s != "category"] + ["category"]
        body["settings"] = dict(manifest.get("settings", {}), category_model=str(model_dir))
        write_manifest(tmp, body)
    return section


def set_reranker(index_path: str | Path, model_dir: str | Path) -> dict:
    """Put a re-ranker trained on this index's signals into it (refused if trained on another encoder or
    category model, whose scores and priors it learned)."""
    from assoc.index_build import RERANKER_DIR, subdirectories
    from assoc.rerank.model import load_reranker
    from assoc.rerank.train import ABLATIONS_DIR, index_identity

    index_path, model_dir = Path(index_path), Path(model_dir)
    manifest = read_manifest(index_path)
    model = load_reranker(model_dir)
    trained_on = model.info.get("index", {})
    here = index_identity(manifest)
    for what in ("encoder", "category"):
        if trained_on.get(what) != here[what]:
            raise InputError(f"{model_dir}: the re-ranker was trained with {what} {trained_on.get(what)}, but index "
                             f"{index_path} has {what} {here[what]}; train it on this index")
    missing = [n for n in model.settings.aux_visual if n not in manifest.get("baselines", [])]
    if missing:
        raise InputError(f"{model_dir}: the re-ranker reads visual baseline(s) {', '.join(missing)}, which index "
                         f"{index_path} does not have")
    ablations = subdirectories(model_dir / ABLATIONS_DIR)
    with atomic_directory(index_path) as tmp:
        _copy_into(index_path, tmp)
        shutil.rmtree(tmp / RERANKER_DIR, ignore_errors=True)
        shutil.copytree(model_dir, tmp / RERANKER_DIR)
        body = _manifest_body(manifest)
        body["reranker"] = {"checksum": model.checksum, "threshold": model.threshold, "ablations": ablations,
                            "kind": model.settings.kind, "aux_visual": list(model.settings.aux_visual)}
        body["settings"] = dict(manifest.get("settings", {}), reranker_model=str(model_dir))
        write_manifest(tmp, body)
    return body["reranker"]


def rebuild_text(index_path: str | Path, es: dict | None = None) -> dict:
    """Index the index's own programs' text again (BM25 and semantic), keeping its vectors and models.

    For a change of text analysis (tokenisers, fields, the semantic model) without re-encoding any
    video. A re-ranker in the index is removed: its text features came from the old text index."""
    from assoc.text.signal import TEXT_DIR, build_text

    index_path = Path(index_path)
    manifest = read_manifest(index_path)
    if "text" not in manifest["signals"]:
        raise InputError(f"{index_path}: this index was built without the text signal; build it with text")
    programs = read_jsonl_strict(index_path / PROGRAMS_FILE, Program)
    old = manifest["text"]
    backend = old["text_index"].get("backend", "tantivy")
    semantic_model = old.get("semantic", {}).get("model")
    with atomic_directory(index_path) as tmp:
        _copy_into(index_path, tmp)
        shutil.rmtree(tmp / TEXT_DIR, ignore_errors=True)
        section, failures, text_index = build_text(programs, tmp, backend, es, semantic_model, "semantic" in old)
        body = _manifest_body(manifest)
        body["text"] = section
        body["backends"] = dict(manifest.get("backends", {}), text=section["text_index"])
        failed = [{"program_id": f.program_id, "reason": f.reason, "stage": "text"} for f in failures]
        body["failures"] = [f for f in manifest.get("failures", []) if f.get("stage") != "text"] + failed
        body["counts"] = dict(manifest.get("counts", {}), text_failures=len(failed))
        _drop_reranker(tmp, body, section)  # its text features came from the old text index
        write_manifest(tmp, body)
    if hasattr(text_index, "publish"):
        text_index.publish()
    section["failures"] = failed
    return section


def set_episode_frames(index_path: str | Path, mode: str, catalog_root: str | Path | None = None, workers: int = 1,
                       progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Store the index's episodes' verification frames (assoc.episode_frames; mode "scan" or "all"), or remove them
    ("none"), keeping everything else: the frames are those a lookup would decode, so a re-ranker in the index stays.
    The videos are read from the catalog the index was built from, or under `catalog_root`. An episode that cannot be
    read is a failure in the returned section (`failures`) and in the manifest; the rest are stored."""
    from assoc import episode_frames

    index_path = Path(index_path)
    manifest = read_manifest(index_path)
    tracks = episode_frames.tracks_for(mode)
    if "visual" not in manifest["signals"]:
        raise InputError(f"{index_path}: stored episode frames serve the visual signal's verification, and this index "
                         "was built without it")
    programs = read_jsonl_strict(index_path / PROGRAMS_FILE, Program)
    built_from = Path(manifest.get("catalog", {}).get("path", index_path / "catalog.jsonl"))
    catalog = Catalog(path=Path(catalog_root) / built_from.name if catalog_root else built_from, programs=programs,
                      errors=[])
    build = BuildReport(failures=[f for f in manifest.get("failures", [])
                                  if f.get("episode_id") and f.get("stage") not in ("text", "episode_frames")])
    kept = len(build.failures)
    with atomic_directory(index_path) as tmp:
        _copy_into(index_path, tmp)
        shutil.rmtree(tmp / episode_frames.FRAMES_DIR, ignore_errors=True)
        body = _manifest_body(manifest)
        body.pop("episode_frames", None)
        if tracks:
            body["episode_frames"] = store_episode_frames(catalog, programs, tmp, mode, build, progress, workers)
        failed = build.failures[kept:]
        body["failures"] = [f for f in manifest.get("failures", []) if f.get("stage") != "episode_frames"] + failed
        body["settings"] = dict(manifest.get("settings", {}), episode_frames=mode)
        write_manifest(tmp, body)
    return dict(body.get("episode_frames", {"mode": "none"}), failures=failed if tracks else [],
                seconds=build.seconds.get("episode_frames", 0.0))
