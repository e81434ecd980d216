"""The program universe: studios, franchises with seasons and spin-offs, lookalike titles.

Pure and deterministic: the same seed and preset give the same universe in any process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assoc.taxonomy import Taxonomy
from eval.synth import names
from eval.synth.look import CharacterLook, VisualSpec, category_look, make_character, make_palette, studio_style


@dataclass(frozen=True)
class EpisodePlan:
    episode_id: str
    number: int
    seed: int
    duration: float


@dataclass(frozen=True)
class ProgramPlan:
    program_id: str
    title: str
    en_title: str
    aliases: tuple[str, ...]
    category: tuple[str, str, str]
    cast: tuple[str, ...]
    characters: tuple[str, ...]
    year: int
    description: str
    studio: int
    franchise: int
    season: int
    relation: str  # "original", "season", "spinoff", "lookalike"
    spec: VisualSpec
    episodes: tuple[EpisodePlan, ...]

    def text_fields(self) -> dict:
        return {"title": self.title, "en_title": self.en_title, "aliases": list(self.aliases),
                "characters": list(self.characters), "cast": list(self.cast)}


def _leaf_weights(n: int, rng: np.random.Generator) -> np.ndarray:
    """Long-tailed category popularity (Zipf-like), in a random order of leaves."""
    w = 1.0 / np.arange(1, n + 1) ** 0.8
    return rng.permutation(w) / w.sum()


def _spec(category, style, rng, parent: VisualSpec | None, share_sets: float, share_chars: float) -> VisualSpec:
    look = category_look(category)
    palette = parent.palette if parent is not None and share_sets >= 0.5 else make_palette(look, style, rng)
    n_sets = int(rng.integers(3, 7))
    sets = [int(s) for s in rng.integers(0, 2**31, n_sets)]
    if parent is not None:  # seasons and spin-offs reuse the parent's sets
        keep = max(1, int(round(len(parent.set_seeds) * share_sets)))
        sets[:keep] = list(parent.set_seeds[:keep])
    n_chars = int(rng.integers(3, 7))
    chars: list[CharacterLook] = [make_character(look, palette, rng) for _ in range(n_chars)]
    if parent is not None:
        keep = max(1, int(round(len(parent.characters) * share_chars)))
        chars[:keep] = list(parent.characters[:keep])
    weights = tuple(float(w) for w in rng.uniform(0.5, 2.0, len(sets)))
    return VisualSpec(look=look, style=style, palette=palette, set_seeds=tuple(sets),
                      set_weights=weights, characters=tuple(chars), theme_seed=int(rng.integers(0, 2**31)))


def build_universe(
    taxonomy: Taxonomy,
    n_programs: int,
    seed: int,
    episodes: tuple[int, int],
    episode_seconds: tuple[float, float],
) -> list[ProgramPlan]:
    """Generate n_programs programs (catalog and held-out alike), deterministically."""
    rng = np.random.default_rng(seed)
    leaves = taxonomy.leaf_paths()
    leaf_p = _leaf_weights(len(leaves), rng)
    n_studios = max(3, n_programs // 12)
    styles = [studio_style(np.random.default_rng([seed, 1, s])) for s in range(n_studios)]

    by_home: dict[str, list[int]] = {}
    for i, st in enumerate(styles):
        by_home.setdefault(st.home, []).append(i)

    def pick_studio(category) -> int:
        """Studios specialise: most programs come from a studio whose home is their top level."""
        home = by_home.get(category_look(category).mode, [])
        if home and rng.random() < 0.8:
            return int(home[int(rng.integers(0, len(home)))])
        return int(rng.integers(0, n_studios))
    used_titles: set[str] = set()
    programs: list[ProgramPlan] = []
    franchise = 0

    def unique_title(mode: str) -> tuple[str, str]:
        for _ in range(30):
            zh, en = names.base_title(mode, rng)
            if zh not in used_titles:
                return zh, en
        a = names.WORDS_A[mode][int(rng.integers(0, len(names.WORDS_A[mode])))]
        return zh + "之" + a[0], f"{en} of {a[1]}"

    def add(title, en_title, category, studio, season, relation, spec, cast, characters, prog_rng):
        pid = f"p{len(programs) + 1:06d}"
        n_eps = int(prog_rng.integers(episodes[0], episodes[1] + 1))
        eps = tuple(
            EpisodePlan(episode_id=f"{pid}e{k:02d}", number=k, seed=int(prog_rng.integers(0, 2**31)),
                        duration=float(round(prog_rng.uniform(*episode_seconds), 1)))
            for k in range(1, n_eps + 1)
        )
        used_titles.add(title)
        cat_en = taxonomy.english(category)
        desc = (f"{category[1]}{category[2]}{category[0]}。{characters[0]}与{characters[-1]}的故事，"
                f"{cast[0]}主演。 A {cat_en[2].lower()} {cat_en[0].lower()} starring {len(cast)} actors.")
        programs.append(ProgramPlan(
            program_id=pid, title=title, en_title=en_title,
            aliases=tuple(names.aliases(title, en_title, prog_rng)), category=tuple(category),  # type: ignore[arg-type]
            cast=tuple(cast), characters=tuple(characters), year=int(prog_rng.integers(1995, 2026)),
            description=desc, studio=studio, franchise=franchise, season=season, relation=relation,
            spec=spec, episodes=eps))
        return programs[-1]

    while len(programs) < n_programs:
        franchise += 1
        category = leaves[int(rng.choice(len(leaves), p=leaf_p))]
        mode = category_look(category).mode
        studio = pick_studio(category)
        prog_rng = np.random.default_rng([seed, 2, franchise])
        spec = _spec(category, styles[studio], prog_rng, None, 0, 0)
        cast = [names.person_name(prog_rng) for _ in range(int(prog_rng.integers(2, 5)))]
        characters = [names.person_name(prog_rng) for _ in range(len(spec.characters))]
        zh, en = unique_title(mode)
        n_seasons = 1
        if mode in ("series", "variety", "anime", "kids", "sports") and rng.random() < 0.25:
            n_seasons = int(rng.integers(2, 4))
        root = add(zh, en, category, studio, 1, "original", spec, cast, characters, prog_rng)
        for s in range(2, n_seasons + 1):
            if len(programs) >= n_programs:
                break
            srng = np.random.default_rng([seed, 3, franchise, s])
            sspec = _spec(category, styles[studio], srng, root.spec, share_sets=0.7, share_chars=0.7)
            szh, sen = names.season_title(zh, en, s)
            add(szh, sen, category, studio, s, "season", sspec, cast, characters, srng)
        if len(programs) < n_programs and rng.random() < 0.08:  # a spin-off around one character
            srng = np.random.default_rng([seed, 4, franchise])
            sspec = _spec(category, styles[studio], srng, root.spec, share_sets=0.35, share_chars=0.35)
            hero = characters[0]
            new_chars = [hero] + [names.person_name(srng) for _ in range(len(sspec.characters) - 1)]
            add(f"{zh}之{hero}传", f"{en}: {hero}'s Story", category, studio, 1, "spinoff", sspec, cast[:1] + [names.person_name(srng)], new_chars, srng)
        if len(programs) < n_programs and rng.random() < 0.10:  # a different program with a one-character-different title
            lrng = np.random.default_rng([seed, 5, franchise])
            lcat = leaves[int(rng.choice(len(leaves), p=leaf_p))]
            lstudio = pick_studio(lcat)
            lspec = _spec(lcat, styles[lstudio], lrng, None, 0, 0)
            lzh = names.one_char_variant(zh, lrng)
            if lzh not in used_titles:
                lcast = [names.person_name(lrng) for _ in range(3)]
                lchars = [names.person_name(lrng) for _ in range(len(lspec.characters))]
                add(lzh, en + " II", lcat, lstudio, 1, "lookalike", lspec, lcast, lchars, lrng)
    return programs
