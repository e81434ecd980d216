"""The learned re-ranker: gradient boosting over candidate features, centred isotonic calibration, open-set threshold.

Trained on the val split (never the test split). Calibration and the threshold are fitted on
out-of-fold scores (clips grouped, so no clip is scored by a model that saw it), so neither is
tuned on scores the model was fitted to; the final model is then refitted on every val clip.

`confidence` = the calibrated probability that the top candidate is the clip's program, and an
open-set clip's candidates are all wrong, so one calibration serves both ranking and "no match".
The threshold is the largest one at which the no-match decision (confidence < threshold) still
reaches the target precision on val: it says "no match" as often as it can while staying right.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import joblib
import numpy as np

from assoc.errors import InputError, ModelError
from assoc.rerank.calibration import CenteredIsotonic, choose_threshold, expected_calibration_error
from assoc.rerank.features import (
    CATEGORY,
    SEASON,
    TEXT_DERIVED,
    ClipSignals,
    all_features,
    candidate_pool,
    feature_rows,
    without_text,
)
from assoc.schema import Program
from indexes.manifest import atomic_directory, sha256_file

MODEL_FILE = "model.joblib"
CONFIG_FILE = "config.json"
KINDS = ("gbdt", "logistic")


@dataclass
class RerankSettings:
    kind: str = "gbdt"  # gbdt: HistGradientBoosting; logistic: logistic regression on imputed features
    depth: int = 20  # each signal's top programs that enter the candidate pool
    use_category: bool = True  # off: the category prior features are dropped (the ablation)
    use_text: bool = True  # off: the clip's title and description are not read (the visual-only ablation)
    aux_visual: tuple[str, ...] = ()  # the index's other visual encoders whose candidates and features it uses
    verify: bool = False  # reads the verification of its best visual candidates against their episodes
    # the assoc.verify.VerifySettings it was trained with (as a dict): lookups verify the same way; None on a
    # re-ranker saved before they were recorded (assoc.verify.LEGACY)
    verify_settings: dict | None = None
    # reads how many clip frames each verification compared too (features.VERIFY_FRAMES); off on a re-ranker saved
    # before it existed, and whenever `verify` is off
    verify_frames: bool = False
    # reads each verification's fit on the pictures' detail too (features.VERIFY_DETAIL); likewise off on a
    # re-ranker saved before it existed, and whenever `verify` is off
    verify_detail: bool = False
    # reads whether the season the title names is the program's (features.SEASON); off on a re-ranker saved before
    # stop 27
    season_marker: bool = False
    target_precision: float = 0.95  # of the no-match decision, on val
    folds: int = 5
    seed: int = 0
    # > 1: that many classifiers, each fitted on a bootstrap sample of the clips (drawn by clip, with replacement),
    # their probabilities averaged (bagging: less variance from a few hundred val clips); listed only when > 1
    bags: int = 1

    def __post_init__(self):
        self.aux_visual = tuple(self.aux_visual)
        self.verify_frames = self.verify_frames and self.verify
        self.verify_detail = self.verify_detail and self.verify
        if self.kind not in KINDS:
            raise InputError(f"unknown re-ranker kind '{self.kind}'; known: {', '.join(KINDS)}")
        if self.bags < 1:
            raise InputError(f"bags must be at least 1 (got {self.bags})")


MISSING = -1000.0


def _missing_below(X: np.ndarray) -> np.ndarray:
    return np.nan_to_num(X, nan=MISSING)


def _classifier(s: RerankSettings):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    if s.kind == "gbdt":
        # missing evidence becomes a value below every real one: to a tree that is the same split as NaN, and
        # sklearn's binning fails on a column that is NaN throughout (no category model: the prior columns)
        return make_pipeline(FunctionTransformer(_missing_below), HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20, l2_regularization=1.0,
            early_stopping=False, random_state=s.seed))
    return make_pipeline(SimpleImputer(strategy="constant", fill_value=0.0), StandardScaler(),
                         LogisticRegression(C=1.0, max_iter=2000))


class BaggedClassifier:
    """Classifiers fitted on bootstrap samples of the clips; predict_proba is the mean of theirs."""

    def __init__(self, members: list):
        self.members = members

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.mean([m.predict_proba(X) for m in self.members], axis=0)


def fit_classifier(s: RerankSettings, X: np.ndarray, y: np.ndarray, group: np.ndarray):
    """One classifier on every row, or with `s.bags` > 1 a BaggedClassifier whose members each see a bootstrap
    sample of the clips (`group`: each row's clip), all of a sampled clip's candidates, as often as it was drawn."""
    if s.bags == 1:
        return _classifier(s).fit(X, y)
    clips, rows_of = np.unique(group, return_inverse=True)
    by_clip = [np.flatnonzero(rows_of == i) for i in range(len(clips))]
    rng = np.random.default_rng([s.seed, 7])
    members = []
    for _ in range(s.bags):
        for _ in range(10):  # a sample with one class only cannot be fitted: draw again
            rows = np.concatenate([by_clip[i] for i in rng.integers(len(clips), size=len(clips))])
            if len(np.unique(y[rows])) == 2:
                break
        else:
            rows = np.arange(len(y))
        members.append(_classifier(s).fit(X[rows], y[rows]))
    return BaggedClassifier(members)


def feature_columns(settings: RerankSettings) -> tuple[list[str], list[int]]:
    """The features a model with these settings reads, and their columns in `feature_rows(..., aux)`."""
    names = all_features(settings.aux_visual, settings.verify, settings.verify_frames, settings.verify_detail)
    used = [f for f in names if (settings.use_category or f not in CATEGORY)
            and (settings.use_text or f not in TEXT_DERIVED) and (settings.season_marker or f not in SEASON)]
    return used, [names.index(f) for f in used]


@dataclass
class TrainingSet:
    X: np.ndarray  # candidates x features
    y: np.ndarray  # 1 where the candidate is the clip's program
    group: np.ndarray  # clip index of each candidate
    is_open: np.ndarray  # per clip
    pids: list[list[str]]  # per clip, its pool
    # per candidate row: how many of the clip's category levels, from the top, the program shares (0 to 3); -1 where
    # the clip has no category
    shared_levels: np.ndarray | None = None

    @property
    def same_category(self) -> np.ndarray | None:
        """Per candidate row: 1 where the candidate's program has the clip's category (leaf), -1 where the clip has
        none."""
        if self.shared_levels is None:
            return None
        return np.where(self.shared_levels < 0, -1, (self.shared_levels == 3).astype(np.int64))


def training_set(examples: Sequence[tuple[ClipSignals, str | None]], programs: dict[str, Program],
                 depth: int, aux: tuple[str, ...] = (), verify: bool = False, frames: bool = False,
                 detail: bool = False, categories: Sequence[tuple | None] | None = None) -> TrainingSet:
    """`categories`: each clip's category path (open-set clips have one too), for the category calibrator."""
    X, y, group, is_open, pools, shared = [], [], [], [], [], []
    for i, (signals, truth) in enumerate(examples):
        pool = candidate_pool(signals, depth, aux)
        pools.append(pool)
        is_open.append(truth is None)
        if pool:
            X.append(feature_rows(signals, pool, programs, aux, verify, frames, detail))
            y.extend(int(p == truth) for p in pool)
            group.extend([i] * len(pool))
            path = tuple(categories[i]) if categories is not None and categories[i] else None
            shared.extend(-1 if path is None or p not in programs else shared_depth(programs[p].category, path)
                          for p in pool)
    if not X:
        raise InputError("no clip has any candidate: nothing to train the re-ranker on")
    return TrainingSet(np.concatenate(X), np.asarray(y, np.int64), np.asarray(group), np.asarray(is_open), pools,
                       np.asarray(shared, np.int64) if categories is not None else None)


def shared_depth(category, path) -> int:
    """How many levels, from the top, two category paths share (0 to 3)."""
    n = 0
    for a, b in zip(tuple(category), tuple(path)):
        if a != b:
            break
        n += 1
    return n


def _top_rows(p: np.ndarray, group: np.ndarray) -> np.ndarray:
    """The row of each clip's best candidate (clips without candidates have none)."""
    order = np.lexsort((-p, group))
    first = np.ones(len(order), bool)
    first[1:] = group[order][1:] != group[order][:-1]
    return order[first]


def _top_confidence(p: np.ndarray, group: np.ndarray, y: np.ndarray, n_clips: int) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: the best candidate's probability and whether that candidate is right (0 without candidates)."""
    conf, correct = np.zeros(n_clips), np.zeros(n_clips, bool)
    top = _top_rows(p, group)
    conf[group[top]], correct[group[top]] = p[top], y[top] == 1
    return conf, correct


MIN_CATEGORY_CLIPS = 20  # fewer labelled clips than this: no category calibrator (the matches are folded in as before)


def fit_category_calibrator(confidence: np.ndarray, group: np.ndarray, same_category: np.ndarray | None):
    """P(the clip has its best candidate's category | that candidate's calibrated probability), fitted on the
    clips' out-of-fold best candidates, and a summary for the model's info; (None, None) without enough
    labelled clips.

    It differs from the match calibration: a clip from another season or a spin-off of a catalog program is
    no match (open set), yet it shares that program's category, and its best candidate is often that program."""
    if same_category is None:
        return None, None
    top = _top_rows(confidence, group)
    top = top[same_category[top] >= 0]
    if len(top) < MIN_CATEGORY_CLIPS or len(np.unique(same_category[top])) < 2:
        return None, None
    summary = {"clips": int(len(top)), "best_candidate_same_category": float(same_category[top].mean())}
    return CenteredIsotonic().fit(confidence[top], same_category[top]), summary


def fit_level_calibrators(confidence: np.ndarray, group: np.ndarray, shared_levels: np.ndarray | None):
    """The level-by-level category calibration (CategoryOutput.with_best_match), fitted on the clips' out-of-fold
    best candidates: P(the clip's level 1 is its best candidate's | the candidate's calibrated probability), then
    P(level 2 is too | level 1 is, probability), then P(the leaf is too | level 2 is, probability); and a summary
    for the model's info. (None, None) when a level has fewer than MIN_CATEGORY_CLIPS clips or one outcome only.

    A clip from a program the catalog lacks often shares its best candidate's top level (a film's clip finds a
    film) though not its leaf; the leaf calibration alone (fit_category_calibrator) leaves that clip to the
    model at every level."""
    if shared_levels is None:
        return None, None
    top = _top_rows(confidence, group)
    top = top[shared_levels[top] >= 0]
    calibrators, summary = [], {"clips": int(len(top))}
    for level in (1, 2, 3):
        rows = top[shared_levels[top] >= level - 1]
        outcome = (shared_levels[rows] >= level).astype(np.int64)
        if len(rows) < MIN_CATEGORY_CLIPS or len(np.unique(outcome)) < 2:
            return None, None
        calibrators.append(CenteredIsotonic().fit(confidence[rows], outcome))
        summary[f"best_candidate_same_level{level}"] = float((shared_levels[top] >= level).mean())
    return calibrators, summary


def _known_categories(ranked: list[tuple[str, float]], programs: dict[str, Program]):
    """(category path, probability) of each ranked candidate the catalog has, best first."""
    return ((tuple(programs[pid].category), p) for pid, p in ranked if pid in programs)


class Reranker:
    """A fitted classifier over candidate features, its calibrator and its open-set threshold."""

    def __init__(self, settings: RerankSettings, classifier, calibrator, threshold: float, info: dict | None = None,
                 category_calibrator=None, level_calibrators=None, category_refiner=None):
        self.settings, self.classifier, self.calibrator = settings, classifier, calibrator
        # P(the clip has the best candidate's category | its probability); None in re-rankers saved before it
        self.category_calibrator = category_calibrator
        # the same level by level (fit_level_calibrators; the eval's comparison, not the lookup's fold); None in
        # re-rankers saved before stop 26
        self.level_calibrators = level_calibrators
        # the clip's level 1 from the model and its candidate lists (assoc.rerank.category_refine); None in
        # re-rankers saved before stop 35, and where it did not beat the model on val
        self.category_refiner = category_refiner
        self.threshold = threshold
        self.info = info or {}
        self.features, self._cols = feature_columns(settings)
        self._checksum: str | None = None

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability that each candidate row is the clip's program."""
        if len(X) == 0:
            return np.zeros(0)
        raw = self.classifier.predict_proba(X[:, self._cols])[:, 1]
        return np.clip(self.calibrator.predict(raw), 0.0, 1.0)

    def score(self, signals: ClipSignals, programs: dict[str, Program]) -> list[tuple[str, float]]:
        """The clip's candidate pool, best first, with calibrated probabilities."""
        aux = self.settings.aux_visual
        if not self.settings.use_text:
            signals = without_text(signals)
        pool = candidate_pool(signals, self.settings.depth, aux)
        s = self.settings
        p = self.probabilities(feature_rows(signals, pool, programs, aux, s.verify, s.verify_frames, s.verify_detail))
        return sorted(zip(pool, p.tolist()), key=lambda kv: (-kv[1], kv[0]))

    def category_matches(self, ranked: list[tuple[str, float]], programs: dict[str, Program]) -> list[tuple[tuple, float]]:
        """What to fold into the clip's category (CategoryOutput.with_matches): the best candidate's category with the
        calibrated probability that the clip has it. Without a category calibrator: every candidate's category with
        its probability of being the clip's program."""
        known = list(_known_categories(ranked, programs))
        if self.category_calibrator is None:
            return known
        return [(known[0][0], float(np.clip(self.category_calibrator.predict([known[0][1]])[0], 0.0, 1.0)))] if known else []

    def fold_category(self, category, ranked: list[tuple[str, float]], programs: dict[str, Program],
                      by_level: bool = False, signals: ClipSignals | None = None):
        """The clip's category (a CategoryOutput) with its candidates folded in as `category_matches` says
        (CategoryOutput.with_matches); with `by_level`, when this model has level calibrators, level by level by the
        best candidate (CategoryOutput.with_best_match). The lookup folds by the leaf: on the bench the level fold
        was 1.6 points worse at level 1 (docs/category.md). With the clip's `signals` and a category refiner, the
        model's level 1 is first refined from the candidate lists (assoc.rerank.category_refine)."""
        if signals is not None and self.category_refiner is not None:
            category = self.category_refiner.refine(category, signals, programs)
        best = next(_known_categories(ranked, programs), None)
        if by_level and self.level_calibrators is not None and best is not None:
            shares = [float(np.clip(c.predict([best[1]])[0], 0.0, 1.0)) for c in self.level_calibrators]
            return category.with_best_match(best[0], shares)
        return category.with_matches(self.category_matches(ranked, programs))

    def aux_candidates(self, signals: ClipSignals) -> dict:
        """The auxiliary visual signals' candidates this model read (name -> candidates)."""
        return {n: signals.aux_visual[n] for n in self.settings.aux_visual if n in signals.aux_visual}

    # saving and loading -------------------------------------------------------------------------
    def config(self) -> dict:
        settings = asdict(self.settings)
        if settings["use_text"]:  # listed only when off: re-rankers saved before it keep their checksum
            del settings["use_text"]
        if not settings["verify"] or settings["verify_settings"] is None:  # listed only when set, likewise
            del settings["verify_settings"]
        if not settings["verify"]:  # listed only when on, for the same reason
            del settings["verify"]
        if not settings["verify_frames"]:  # likewise
            del settings["verify_frames"]
        if not settings["verify_detail"]:  # likewise
            del settings["verify_detail"]
        if not settings["season_marker"]:  # likewise
            del settings["season_marker"]
        if settings["bags"] == 1:  # likewise
            del settings["bags"]
        return {"kind": "reranker", "format_version": 1, "settings": settings, "features": self.features,
                "threshold": self.threshold, "info": self.info}

    def _saved(self) -> dict:
        saved = {"classifier": self.classifier, "calibrator": self.calibrator}
        if self.category_calibrator is not None:  # absent otherwise, as in re-rankers saved before it
            saved["category_calibrator"] = self.category_calibrator
        if self.level_calibrators is not None:  # likewise
            saved["category_level_calibrators"] = self.level_calibrators
        if self.category_refiner is not None:  # likewise
            saved["category_refiner"] = self.category_refiner
        return saved

    def _identity(self, model_sha256: str) -> str:
        body = json.dumps({k: v for k, v in self.config().items() if k != "info"}, sort_keys=True)
        return hashlib.sha256((body + model_sha256).encode()).hexdigest()[:16]

    @property
    def checksum(self) -> str:
        """Of the config and the saved weights' bytes (pickles are not byte-stable across a load and a dump,
        so a loaded model keeps the checksum it was saved with, after its file's hash is verified)."""
        if self._checksum is None:
            buf = io.BytesIO()
            joblib.dump(self._saved(), buf)
            self._checksum = self._identity(hashlib.sha256(buf.getvalue()).hexdigest())
        return self._checksum

    def save(self, directory: str | Path) -> str:
        """Write atomically (config.json beside model.joblib); return the checksum."""
        with atomic_directory(Path(directory)) as tmp:
            joblib.dump(self._saved(), tmp / MODEL_FILE)
            digest = sha256_file(tmp / MODEL_FILE)
            self._checksum = self._identity(digest)
            config = dict(self.config(), checksum=self._checksum, model_sha256=digest)
            (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False))
        return self._checksum


def load_reranker(directory: str | Path) -> Reranker:
    """Load a saved re-ranker; refuse one whose weights do not match its config."""
    directory = Path(directory)
    try:
        config = json.loads((directory / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"{directory}: not a re-ranker directory ({e})") from e
    if config.get("kind") != "reranker":
        raise ModelError(f"{directory}: config.json describes a '{config.get('kind')}', not a re-ranker")
    if not (directory / MODEL_FILE).is_file() or sha256_file(directory / MODEL_FILE) != config.get("model_sha256"):
        raise ModelError(f"{directory}: {MODEL_FILE} is missing or does not match config.json")
    saved = joblib.load(directory / MODEL_FILE)
    settings = RerankSettings(**config["settings"])
    model = Reranker(settings, saved["classifier"], saved["calibrator"], float(config["threshold"]), config["info"],
                     saved.get("category_calibrator"), saved.get("category_level_calibrators"),
                     saved.get("category_refiner"))
    if model._identity(config["model_sha256"]) != config.get("checksum"):
        raise ModelError(f"{directory}: config.json does not match its checksum")
    model._checksum = config["checksum"]
    if model.features != config["features"]:
        raise ModelError(f"{directory}: trained on features {config['features']}, this version computes {model.features}")
    return model


def fit_reranker(data: TrainingSet, settings: RerankSettings) -> Reranker:
    """Out-of-fold scores -> centred isotonic calibration and threshold; then the classifier refitted on all clips."""
    from sklearn.model_selection import GroupKFold

    X = data.X[:, feature_columns(settings)[1]]
    n_clips = len(data.is_open)
    positives = int(data.y.sum())
    if positives < 2:
        raise InputError(f"only {positives} clip(s) have their program among the candidates: too few to train")
    folds = min(settings.folds, len(np.unique(data.group)), positives)
    oof = np.zeros(len(X))
    for train, test in GroupKFold(n_splits=folds).split(X, data.y, data.group):
        clf = fit_classifier(settings, X[train], data.y[train], data.group[train])
        oof[test] = clf.predict_proba(X[test])[:, 1]
    calibrator = CenteredIsotonic().fit(oof, data.y)
    calibrated = calibrator.predict(oof)
    conf, correct = _top_confidence(calibrated, data.group, data.y, n_clips)
    category_calibrator, category_summary = fit_category_calibrator(calibrated, data.group, data.same_category)
    level_calibrators, level_summary = fit_level_calibrators(calibrated, data.group, data.shared_levels)
    threshold, prf = choose_threshold(conf, data.is_open, settings.target_precision)
    classifier = fit_classifier(settings, X, data.y, data.group)
    info = {"clips": n_clips, "open_set_clips": int(data.is_open.sum()), "candidates": int(len(X)),
            "positives": int(data.y.sum()), "folds": folds,
            "out_of_fold": {"top1_accuracy_in_catalog": float(correct[~data.is_open].mean()) if (~data.is_open).any() else None,
                            "ece": expected_calibration_error(conf, correct), "no_match": prf}}
    if category_summary is not None:
        info["category_calibration"] = category_summary
    if level_summary is not None:
        info["category_level_calibration"] = level_summary
    return Reranker(settings, classifier, calibrator, threshold, info, category_calibrator, level_calibrators)
