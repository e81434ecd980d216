"""`assoc train reranker`: run the index's signals over labelled clips (the val split) and fit the re-ranker.

Besides the model, ablations are fitted on the same clips and saved under `ablations/`, so `assoc eval`
can report their effect side by side: without the category-prior features (`no_category`), and
without the auxiliary visual signal (`no_aux_visual`: the MoCo encoder's candidates only), and without
the clip's title and description (`no_text`: every visual signal and the category prior, fused: the
visual path's best figure), and, when the model reads the verification against the episodes, without
it (`no_verify`), and, when it reads how many frames each verification compared, without that (`no_verify_frames`),
and, when it reads the fits checked on the pictures' detail, without those (`no_verify_detail`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from assoc.catalog import clip_video_path, load_queries
from assoc.errors import InputError, MediaError
from assoc.rerank.features import without_text
from assoc.rerank.model import RerankSettings, fit_reranker, training_set

ABLATIONS_DIR = "ablations"
AUTO = ("auto",)  # RerankSettings.aux_visual: the index's hand-made visual baselines that it has
AUTO_AUX = ("color_histogram", "luma_thumbnail", "relative_histogram")


def index_identity(manifest: dict) -> dict:
    """What the features depend on: the encoder (visual scores) and the category model (priors)."""
    return {"encoder": manifest.get("encoder", {}).get("checksum"),
            "category": manifest.get("category", {}).get("checksum")}


def train_reranker(index_path: str | Path, queries_path: str | Path, out: str | Path,
                   settings: RerankSettings | None = None, es: dict | None = None,
                   progress: Callable[[int, int], None] | None = None, catalog_root: str | None = None,
                   program_search: bool = False, scan: bool = True, scan_depth: int = 1,
                   verify_channels: tuple[str, ...] | None = None) -> dict:
    """Fit the re-ranker (and its no-category ablation) on the labelled clips; return the training report.
    `program_search`: verification also searches the program the title names among its own keyframes
    (assoc.verify.VerifySettings.program_search), saved with the model so that lookups do the same. `scan`: the
    episodes of the clip's likeliest programs that no alignment verified are scanned for where it fits
    (VerifySettings.scan, SCAN_PROGRAMS of them), saved likewise; `scan_depth` > 1: the text's and the first visual
    list's best that many each (VerifySettings.scan_text, scan_lead), at most SCAN_PROGRAMS_DEEP programs.
    `verify_channels`: the pictures verification compares, in order (VerifySettings.channels; None: its default,
    luminance only; ("luma", "value"): HSV value too where luminance does not confirm)."""
    from dataclasses import asdict, replace

    from assoc.lookup import Associator, LookupSettings
    from assoc.verify import DETAIL_WIDTH, PROGRAM_SEARCH, SCAN_PROGRAMS, SCAN_PROGRAMS_DEEP, VerifySettings

    if scan_depth < 1:
        raise InputError(f"scan depth must be at least 1 (got {scan_depth})")

    # as `assoc train reranker` does
    settings = settings or RerankSettings(aux_visual=AUTO, verify=True, verify_frames=True, season_marker=True)
    if settings.verify and settings.verify_settings is None:  # saved with the model: lookups verify the same way
        # the detail check costs a decode of the episodes at its width: only for a model that reads it
        verify_settings = VerifySettings(detail_width=DETAIL_WIDTH if settings.verify_detail else None,
                                         program_search=PROGRAM_SEARCH if program_search else None,
                                         scan=(SCAN_PROGRAMS if scan_depth == 1 else SCAN_PROGRAMS_DEEP) if scan else None,
                                         scan_text=scan_depth, scan_lead=scan_depth,
                                         **({"channels": tuple(verify_channels)} if verify_channels else {}))
        settings = replace(settings, verify_settings=asdict(verify_settings))
    assoc = Associator.open(index_path, LookupSettings(top_k=settings.depth, catalog_root=catalog_root), es=es,
                            scorer="rrf", aux_visual=() if settings.aux_visual == AUTO else settings.aux_visual,
                            verify=VerifySettings.from_config(settings.verify_settings) if settings.verify else False)
    if "visual" not in assoc.signals or "text" not in assoc.signals:
        raise InputError(f"{index_path}: the re-ranker needs an index with both the visual and the text signal")
    if settings.aux_visual == AUTO:
        assoc.aux_visual = tuple(n for n in AUTO_AUX if n in assoc.index.baselines)
        settings = replace(settings, aux_visual=assoc.aux_visual)
    assoc.text_free_category = True  # the no_text ablation's category prior: the model without the clip's text
    clips, rejected = load_queries(queries_path)
    failures = [str(e) for e in rejected]
    examples, categories = [], []
    for n, clip in enumerate(clips, 1):
        try:
            signals = assoc.video_signals(clip_video_path(queries_path, clip), clip.clip_id, clip.title,
                                          clip.description)
            examples.append((signals, clip.program_id))
            categories.append(tuple(clip.category) if clip.category else None)
        except MediaError as e:
            failures.append(f"{clip.clip_id}: {e}")
        if progress:
            progress(n, len(clips))
    if not examples:
        raise InputError(f"{queries_path}: no clip could be used for training")
    identity = index_identity(assoc.index.manifest)
    models = {"model": replace(settings, use_category=settings.use_category and assoc.category is not None)}
    if assoc.category is not None:
        models["no_category"] = replace(models["model"], use_category=False)
    if settings.aux_visual:
        models["no_aux_visual"] = replace(models["model"], aux_visual=())
    models["no_text"] = replace(models["model"], use_text=False)  # the visual path alone, every visual signal fused
    if settings.verify:
        models["no_verify"] = replace(models["model"], verify=False)
    if settings.verify and settings.verify_frames:
        models["no_verify_frames"] = replace(models["model"], verify_frames=False)
    if settings.season_marker:
        models["no_season_marker"] = replace(models["model"], season_marker=False)
    if settings.verify and settings.verify_detail:
        # verifying as a re-ranker trained without the check would (used as a model, it does not decode for it)
        models["no_verify_detail"] = replace(models["model"], verify_detail=False,
                                             verify_settings={**settings.verify_settings, "detail_width": None})
    out = Path(out)
    report = {"queries": str(queries_path), "failures": failures, "models": {}}
    sets: dict = {}
    for name, s in models.items():
        key = (s.aux_visual, s.use_text, s.verify_frames, s.verify_detail)
        if key not in sets:  # the pool depends on the signals that feed it, the columns on what the model reads
            used = examples if s.use_text else [(without_text(sig), truth) for sig, truth in examples]
            # built with the verification columns when the model reads them (they come last: the no_verify
            # ablation reads the same leading columns)
            sets[key] = training_set(used, assoc.index.programs, s.depth, s.aux_visual, settings.verify,
                                     s.verify_frames, s.verify_detail, categories)
        model = fit_reranker(sets[key], s)
        model.info.update(index=identity, queries=str(queries_path), failures=len(failures))
        model.save(out if name == "model" else out / ABLATIONS_DIR / name)
        report["models"][name] = {"threshold": model.threshold, **model.info}
    return report
