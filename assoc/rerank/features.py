"""What the re-ranker sees: one clip's signal outputs, the candidate pool, and a feature row per candidate.

Missing evidence is NaN (the program was not among that signal's candidates), which gradient
boosting handles natively; the presence flags say the same thing to a linear model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from assoc.schema import Program
from assoc.text.query import ParsedTitle, parse_title
from assoc.text.signal import TextCandidate
from assoc.visual import VisualCandidate

VISUAL = ["vis_present", "vis_rank", "vis_score", "vis_score_ratio", "vis_raw_score", "vis_votes_share",
          "vis_similarity", "vis_max_similarity", "vis_consistency", "vis_coverage", "vis_margin"]
TEXT = ["txt_present", "txt_rank", "txt_score", "txt_margin", "bm25", "bm25_rank", "bm25_ratio", "fuzzy",
        "fuzzy_title", "fuzzy_alias", "semantic", "entity_character", "entity_cast", "entity_share"]
CATEGORY = ["cat_prior_1", "cat_prior_2", "cat_prior_3", "cat_agree"]
CLIP = ["episode_marker", "has_names", "rrf"]
# whether the season the title names ("X 第三季", "X Season 3") is the program's: 0 when it is another season's
# title (a later season not in the catalog shares the earlier ones' sets, characters and title); NaN without a
# readable season marker. Computed always, read by re-rankers trained since stop 27 (RerankSettings.season_marker)
SEASON = ["season_marker"]
TEXT_DERIVED = TEXT + ["episode_marker", "has_names"] + SEASON  # what a re-ranker that does not read the title drops
FEATURES = VISUAL + TEXT + CATEGORY + CLIP
AUX = ["present", "rank", "score", "score_ratio", "consistency", "coverage", "margin"]
# verification against the episode (assoc.verify); NaN throughout when it did not run for the clip
VERIFY = ["ver_present", "ver_fit", "ver_fit_trimmed", "ver_free_fit", "ver_scale", "ver_margin"]
# how many clip frames the verification compared: a fit of one or two frames is found somewhere by chance (46 of
# the bench's 524 val and test open-set clips fitted a catalog program at >= 0.85, 20 of them with 1-3 frames);
# read by re-rankers trained since stop 17 (RerankSettings.verify_frames)
VERIFY_FRAMES = ["ver_frames"]
# the fit checked on the pictures' detail (assoc.verify.DetailCheck): a chance fit is two pictures of one coarse
# layout, whose detail does not agree; read by re-rankers trained since stop 18 (RerankSettings.verify_detail)
VERIFY_DETAIL = ["ver_detail"]
NAN = float("nan")


def aux_features(name: str) -> list[str]:
    """Features of an auxiliary visual signal (another encoder over the same keyframes, e.g. color_histogram)."""
    return [f"{name}_{f}" for f in AUX]


def all_features(aux: tuple[str, ...] = (), verify: bool = False, frames: bool = False,
                 detail: bool = False) -> list[str]:
    return (FEATURES + SEASON + [f for name in aux for f in aux_features(name)] + (VERIFY if verify else [])
            + (VERIFY_FRAMES if verify and frames else []) + (VERIFY_DETAIL if verify and detail else []))


@dataclass
class ClipSignals:
    """Everything the signals said about one clip: the input of every scorer (RRF or re-ranker)."""

    clip_id: str
    visual: list[VisualCandidate] | None = None  # None: the signal did not run
    text: list[TextCandidate] | None = None
    category: object = None  # a CategoryOutput, or None
    # the category model's output for the same clip without its title and description (Lookup.text_free_category;
    # None when not computed): the visual-only re-ranker's category prior
    category_without_text: object = None
    parsed: ParsedTitle = field(default_factory=ParsedTitle)
    aux_visual: dict[str, list[VisualCandidate]] = field(default_factory=dict)  # name -> candidates
    verified: bool = False  # verification ran (its candidates are in `verification`; the others were not chosen)
    verification: dict = field(default_factory=dict)  # program -> assoc.verify.Verification
    verified_for_text: list[str] = field(default_factory=list)  # verified only because the text signal ranked them first
    # program -> its alignments found by searching only its own keyframes (the text's best, which the visual signals
    # did not rank among those verified: assoc.verify.VerifySettings.program_search)
    searched: dict[str, list[VisualCandidate]] = field(default_factory=dict)
    # program -> the verification (or None) that a scan of its episodes, chosen only because the text signal ranked it
    # first, replaced in `verification` (assoc.verify.VerifySettings.scan): what the visual-only re-ranker sees
    unscanned: dict = field(default_factory=dict)
    degraded: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def without_text(signals: ClipSignals) -> ClipSignals:
    """The same clip as if it had no title or description: the input of the visual-only re-ranker (which
    does not see the verification of a program the text signal alone chose either, nor a category the text
    moved: its category is the model's without the text, and missing when that was not computed)."""
    verification = {p: signals.unscanned.get(p, v) for p, v in signals.verification.items()}
    verification = {p: v for p, v in verification.items() if v is not None and p not in signals.verified_for_text}
    return replace(signals, text=None, parsed=ParsedTitle(), verification=verification, verified_for_text=[],
                   searched={}, unscanned={}, category=signals.category_without_text, category_without_text=None)


def rrf_scores(signals: ClipSignals, k: int = 60) -> dict[str, float]:
    from assoc.fusion import rrf

    lists = [[c.program_id for c in sig] for sig in (signals.visual, signals.text) if sig is not None]
    return dict(rrf(lists, k))


def candidate_pool(signals: ClipSignals, depth: int, aux: tuple[str, ...] = ()) -> list[str]:
    """The union of each signal's top `depth` programs, in first-seen order (visual, text, then `aux`)."""
    pool: dict[str, None] = {}
    for sig in (signals.visual, signals.text, *(signals.aux_visual.get(name) for name in aux)):
        for c in (sig or [])[:depth]:
            pool.setdefault(c.program_id, None)
    return list(pool)


def _ratio(x: float, best: float) -> float:
    return x / best if best > 0 else 0.0


def _episode_marker(parsed: ParsedTitle, program: Program | None) -> float:
    """1 when the title's episode number exists in the program, 0 when it does not, NaN without a marker."""
    if parsed.episode is None or program is None:
        return NAN
    return float(any(e.number == parsed.episode for e in program.episodes))


@lru_cache(maxsize=65536)
def program_season(title: str, aliases: tuple[str, ...] = ()) -> int:
    """The season a program's title (else the first of its aliases that has one) names: 第N季, Season N; 1 without."""
    for name in (title, *aliases):
        season = parse_title(name).season
        if season:
            return season
    return 1


def _season_marker(parsed: ParsedTitle, program: Program | None) -> float:
    """1 when the season the title names is the program's (program_season), 0 when it is not, NaN without a readable
    season marker (or program)."""
    if not parsed.season or program is None:
        return NAN
    return float(program_season(program.title, tuple(program.aliases)) == parsed.season)


def feature_rows(signals: ClipSignals, pids: list[str], programs: dict[str, Program],
                 aux: tuple[str, ...] = (), verify: bool = False, frames: bool = False,
                 detail: bool = False) -> np.ndarray:
    """len(pids) x len(all_features(aux, verify, frames, detail)) float32 rows, NaN where a signal has no evidence
    for a program."""
    vis, vis_scores = _ranked(signals.visual or [])
    txt, txt_scores = _ranked(signals.text or [])
    top_bm25 = max((c.bm25 or 0.0 for c in signals.text or []), default=0.0)
    rrf = rrf_scores(signals)
    predicted = signals.category.prediction().levels if signals.category is not None else None
    names = all_features(aux, verify, frames, detail)
    fits = sorted((v.fit_trimmed for v in signals.verification.values()), reverse=True) + [NAN, NAN]
    rows = np.full((len(pids), len(names)), np.nan, np.float32)
    col = {name: j for j, name in enumerate(names)}
    aux_maps = {name: _ranked(signals.aux_visual.get(name) or []) for name in aux}
    for i, pid in enumerate(pids):
        row = rows[i]
        program = programs.get(pid)
        f: dict[str, float] = {"vis_present": 0.0, "txt_present": 0.0}
        if pid in vis:
            r, c = vis[pid]
            f.update(vis_present=1.0, vis_rank=r, vis_score=c.score, vis_score_ratio=_ratio(c.score, vis_scores[0]),
                     vis_raw_score=c.raw_score, vis_votes_share=c.votes / max(c.frames, 1),
                     vis_similarity=c.similarity, vis_max_similarity=c.max_similarity,
                     vis_consistency=c.consistency, vis_coverage=c.coverage, vis_margin=c.score - _best_other(vis_scores, r))
        if pid in txt:
            r, c = txt[pid]
            f.update(txt_present=1.0, txt_rank=r, txt_score=c.score, txt_margin=c.score - _best_other(txt_scores, r),
                     fuzzy_title=float(c.fuzzy_field == "title"), fuzzy_alias=float(c.fuzzy_field == "alias"),
                     entity_character=float(c.entity == "characters"), entity_cast=float(c.entity == "cast"))
            if c.entity_share is not None:
                f["entity_share"] = 1.0 / c.entity_share  # 1: the name identifies this program alone
            if c.bm25 is not None:
                f.update(bm25=c.bm25, bm25_rank=c.bm25_rank or NAN, bm25_ratio=_ratio(c.bm25, top_bm25))
            if c.fuzzy is not None:
                f["fuzzy"] = c.fuzzy
            if c.semantic is not None:
                f["semantic"] = c.semantic
        if signals.category is not None and program is not None:
            prior = signals.category.prior(program.category)
            f.update(cat_prior_1=prior[0], cat_prior_2=prior[1], cat_prior_3=prior[2],
                     cat_agree=agree_levels(predicted, program.category))
        f.update(episode_marker=_episode_marker(signals.parsed, program), has_names=float(bool(signals.parsed.names)),
                 rrf=rrf.get(pid, 0.0), season_marker=_season_marker(signals.parsed, program))
        for name, (ranked, scores) in aux_maps.items():
            f[f"{name}_present"] = 0.0
            if pid in ranked:
                r, c = ranked[pid]
                f.update({f"{name}_present": 1.0, f"{name}_rank": r, f"{name}_score": c.score,
                          f"{name}_score_ratio": _ratio(c.score, scores[0]), f"{name}_consistency": c.consistency,
                          f"{name}_coverage": c.coverage, f"{name}_margin": c.score - _best_other(scores, r)})
        if verify and signals.verified:
            v = signals.verification.get(pid)
            f["ver_present"] = float(v is not None)
            if v is not None:
                other = fits[1] if v.fit_trimmed >= fits[0] else fits[0]
                f.update(ver_fit=v.fit, ver_fit_trimmed=v.fit_trimmed, ver_free_fit=v.free_fit, ver_scale=v.scale,
                         ver_margin=v.fit_trimmed - other)
                if frames:
                    f["ver_frames"] = v.frames
                if detail and v.detail is not None:
                    f["ver_detail"] = v.detail
        for name, value in f.items():
            row[col[name]] = value
    return rows


def _ranked(cands: list) -> tuple[dict, list[float]]:
    """program -> (rank, candidate), and the scores best first (padded, so the runner-up always exists)."""
    return ({c.program_id: (r, c) for r, c in enumerate(cands, 1)},
            sorted((c.score for c in cands), reverse=True) + [0.0, 0.0])


def _best_other(scores: list[float], rank: int) -> float:
    """The best score among the other programs of a list (the runner-up's when this one is first)."""
    return scores[1] if rank == 1 else scores[0]


def agree_levels(predicted: list[tuple[str, float]], path) -> int:
    """Levels, from the top, where the predicted path equals the program's category."""
    n = 0
    for (name, _), truth in zip(predicted, path):
        if name != truth:
            break
        n += 1
    return n
