"""What each indexed episode's keyframes were computed from: its video's size and modification time at index time.

An index describes the videos as they were when it was built: keyframe vectors, baselines and stored verification
frames. A video replaced afterwards (a re-encode, a corrected cut) leaves the index answering for the old one, and
nothing at lookup would say so. `assoc index build` and `assoc index add` record each indexed episode's video stamp
in `visual/videos.json` (taken before the episode is decoded); `assoc index check` compares them with the videos now
and names the episodes changed or missing, and can write a catalog of the programs to re-add (`assoc index add`).

Size and modification time, not a content hash: reading every video again is what the check avoids (a stat per
episode), and a copy that keeps both size and time is not seen.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from assoc.errors import InputError

FILE = "videos.json"
FORMAT = 1


def stamp(path: str | Path) -> dict | None:
    """The video's size and modification time (ns), or None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read(visual_dir: Path) -> dict[str, dict] | None:
    """episode_id -> {program_id, size, mtime_ns}; None for an index built before stamps were recorded."""
    path = visual_dir / FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable video stamps: {e}") from e
    if data.get("format") != FORMAT:
        raise InputError(f"{path}: video stamps of format {data.get('format')}, expected {FORMAT}")
    return data["episodes"]


def write(visual_dir: Path, episodes: dict[str, dict]) -> None:
    (visual_dir / FILE).write_text(json.dumps({"format": FORMAT, "episodes": episodes}, ensure_ascii=False),
                                   encoding="utf-8")


def update(visual_dir: Path, added: dict[str, dict] | None = None,
           dropped_programs: set[str] | frozenset = frozenset()) -> None:
    """Drop these programs' stamps and add new ones, in an index copy (an index without a record gets one holding
    what is added)."""
    episodes = read(visual_dir)
    if episodes is None and not added:
        return  # an index built before stamps keeps having no record
    episodes = {eid: s for eid, s in (episodes or {}).items() if s.get("program_id") not in dropped_programs}
    episodes.update(added or {})
    write(visual_dir, episodes)


def videos_root(manifest: dict, catalog_root: str | Path | None = None) -> Path:
    """Where an index's episode videos are: `catalog_root`, or beside the catalog it was built from."""
    return Path(catalog_root) if catalog_root else Path(manifest.get("catalog", {}).get("path", ".")).parent


@dataclass
class CheckReport:
    episodes: int = 0
    unchanged: int = 0
    changed: list[dict] = field(default_factory=list)  # {program_id, episode_id, video, indexed, now}
    missing: list[dict] = field(default_factory=list)  # {program_id, episode_id, video}: the video cannot be read
    unrecorded: list[dict] = field(default_factory=list)  # no stamp: indexed before stamps, or never indexed
    recorded: bool = True  # False: the index predates stamps (every episode unrecorded)

    @property
    def stale_programs(self) -> list[str]:
        """The programs with an episode whose video changed since it was indexed."""
        return sorted({c["program_id"] for c in self.changed})

    def summary(self) -> dict:
        return {"episodes": self.episodes, "unchanged": self.unchanged, "changed": len(self.changed),
                "missing": len(self.missing), "unrecorded": len(self.unrecorded),
                "stale_programs": self.stale_programs}


def check(index_path: str | Path, catalog_root: str | Path | None = None) -> CheckReport:
    """Compare each indexed episode's video now with its stamp; videos are looked for as lookups look for them (beside
    the catalog the index was built from, or under `catalog_root`)."""
    from assoc.index_build import PROGRAMS_FILE, VISUAL_DIR
    from assoc.jsonl import read_jsonl_strict
    from assoc.schema import Program
    from indexes.manifest import read_manifest

    index_path = Path(index_path)
    manifest = read_manifest(index_path)
    if "visual" not in manifest.get("signals", []):
        raise InputError(f"{index_path}: a text-only index holds nothing computed from the videos")
    root = videos_root(manifest, catalog_root)
    stamps = read(index_path / VISUAL_DIR)
    report = CheckReport(recorded=stamps is not None)
    for program in read_jsonl_strict(index_path / PROGRAMS_FILE, Program):
        for episode in program.episodes:
            report.episodes += 1
            path = root / episode.video
            where = {"program_id": program.program_id, "episode_id": episode.episode_id, "video": str(path)}
            now, then = stamp(path), (stamps or {}).get(episode.episode_id)
            if now is None:
                report.missing.append(where)
            elif then is None:
                report.unrecorded.append(where)
            elif (then["size"], then["mtime_ns"]) != (now["size"], now["mtime_ns"]):
                indexed = {"size": then["size"], "mtime_ns": then["mtime_ns"]}
                report.changed.append(dict(where, indexed=indexed, now=now))
            else:
                report.unchanged += 1
    return report


def write_catalog(index_path: str | Path, program_ids: list[str], out: str | Path,
                  catalog_root: str | Path | None = None) -> int:
    """Write the index's entries of these programs as a catalog (video paths relative to `out`'s folder, so it can be
    written anywhere) for `assoc index add`; the number written."""
    from assoc.index_build import PROGRAMS_FILE
    from assoc.jsonl import read_jsonl_strict, write_jsonl
    from assoc.schema import Program
    from indexes.manifest import read_manifest

    index_path, out = Path(index_path), Path(out)
    root = videos_root(read_manifest(index_path, verify=False), catalog_root)
    wanted = set(program_ids)
    programs = []
    for p in read_jsonl_strict(index_path / PROGRAMS_FILE, Program):
        if p.program_id in wanted:
            episodes = [e.model_copy(update={"video": os.path.relpath((root / e.video).resolve(),
                                                                      out.parent.resolve())}) for e in p.episodes]
            programs.append(p.model_copy(update={"episodes": episodes}))
    return write_jsonl(out, programs)  # atomically
