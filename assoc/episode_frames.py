"""Episodes' verification frames stored in the index directory (`assoc index build --episode-frames scan|all`).

Verification (assoc/verify.py) compares a clip with its candidates' episodes, and reads those episodes' videos at
lookup: whole episodes for the scan (every `scan_step` seconds, `scan_width` pixels wide), windows of a few seconds
around each alignment for the fit (every frame, `width` pixels wide). Decoding is most of the scan's time. This
module decodes them once, at index time, with the very functions a lookup would call (so the pixels are the same and
so are the lookups' results), and keeps them beside the vectors as uint8 arrays:

- mode `scan`: the scan's frames (32 x 18 luminance pixels every 0.5 s of a 16:9 episode: about 1.2 kB a second of
  video);
- mode `all`: also every frame at the verification width (64 x 36: about 2.3 kB a frame, 18 kB a second at 8 fps).
  With it a lookup verifies without the catalog's videos: the index directory is all the service needs.

A lookup reads a stored track only where the verification settings ask for exactly its width, step and channel (a
re-ranker trained with other settings, value verification and the opt-in detail check read the videos as before).
The frames are those of the videos when the index was built, like the keyframe vectors: a changed episode is indexed
again with `assoc index add`, which replaces its program's stored frames too.

Layout: `episode_frames/episodes.json` (the tracks, and per episode its program, file name and each track's frame
count and spacing) and `episode_frames/<name>.<track>.npy`, read memory-mapped. A name is random (64 bits, checked
against those present), so a lookup that opened the index before an update in place reads the frames it expects or,
when they are gone, the video; never another episode's.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from assoc.errors import InputError, MediaError

FRAMES_DIR = "episode_frames"
META_FILE = "episodes.json"
MODES = ("none", "scan", "all")
FORMAT = 1
CHUNK = 2048  # frames decoded at once for the window track (a long episode is not held whole at full size)


@dataclass(frozen=True)
class Track:
    name: str  # "scan" or "window"
    width: int
    step: float | None  # seconds between frames (the scan's); None: every frame (the window's)
    channel: str = "luma"


def tracks_for(mode: str) -> list[Track]:
    """The tracks a mode stores, at the default verification settings' widths and step."""
    from assoc.verify import VerifySettings

    if mode not in MODES:
        raise InputError(f"unknown episode-frames mode '{mode}'; known: {', '.join(MODES)}")
    d = VerifySettings()
    scan = Track("scan", d.scan_width, d.scan_step)
    window = Track("window", d.width, None)
    return {"none": [], "scan": [scan], "all": [scan, window]}[mode]


def read_track(path: str | Path, track: Track) -> tuple[np.ndarray, float]:
    """One episode's frames for `track`, as a lookup reads them: the scan's (read_scan: frames, seconds between
    them) or every frame (what read_window slices: frames, fps). Raises MediaError."""
    from assoc.verify import _decode, read_scan

    if track.step is not None:
        return read_scan(path, track.width, track.step, track.channel)
    count: dict = {}

    def chunk(first: int):
        def indices(n: int, fps: float) -> list[int]:
            count["n"] = n
            return list(range(first, min(n, first + CHUNK)))
        return indices

    # read_window's own decoding (verify._decode, which names a missing or undecodable file) of CHUNK frames at a
    # time: a lookup's pixels
    parts, first = [], 0
    while not parts or first < count["n"]:
        frames, fps, _ = _decode(path, track.width, chunk(first), track.channel)
        parts.append(frames)
        first += CHUNK
    return np.concatenate(parts), float(fps)


def read_tracks(path: str | Path, tracks: tuple[Track, ...]) -> dict[str, tuple[np.ndarray, float]] | str:
    """Every track of one episode, or the reason it could not be read (a batch goes on with the rest)."""
    try:
        return {t.name: read_track(path, t) for t in tracks}
    except MediaError as e:
        return e.reason


class EpisodeFrames:
    """The stored frames of an index (read-only, thread-safe): `scan()` and `window()` answer None where a track at
    those settings or that episode is not stored, and the caller reads the video instead."""

    OPEN = 256

    def __init__(self, directory: Path, meta: dict):
        self.directory = directory
        self.tracks = {t["name"]: Track(**t) for t in meta["tracks"]}
        self.episodes: dict = meta["episodes"]
        self._open: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_path: str | Path) -> "EpisodeFrames | None":
        """The index's stored frames; None when it has none."""
        directory = Path(index_path) / FRAMES_DIR
        if not (directory / META_FILE).is_file():
            return None
        return cls(directory, read_meta(directory))

    def _array(self, episode_id: str, track: str) -> np.ndarray | None:
        """The track's frames, memory-mapped (a window reads a few seconds of a long episode); the most recently used
        `OPEN` stay mapped (each mapping holds a file descriptor)."""
        key = (episode_id, track)
        with self._lock:
            got = self._open.get(key)
            if got is not None:
                self._open.move_to_end(key)
                return got
        try:
            got = np.load(self.directory / f"{self.episodes[episode_id]['file']}.{track}.npy", mmap_mode="r")
        except (OSError, ValueError):
            # gone: the index was updated in place since it was opened (`assoc index add/remove` replace the
            # directory, and never reuse a file's name), and the lookup reads the video, as it would without them
            return None
        with self._lock:
            self._open[key] = got
            while len(self._open) > self.OPEN:
                self._open.popitem(last=False)
        return got

    def _get(self, name: str, episode_id: str, width: int, step: float | None, channel: str):
        t = self.tracks.get(name)
        entry = self.episodes.get(episode_id)
        if t is None or entry is None or name not in entry or t.width != width or t.channel != channel:
            return None
        if step is not None and (t.step is None or abs(t.step - step) > 1e-9):
            return None
        frames = self._array(episode_id, name)
        return None if frames is None else (frames, float(entry[name]["spacing"]))

    def scan(self, episode_id: str, width: int, step: float, channel: str = "luma") -> tuple[np.ndarray, float] | None:
        """What read_scan returns for the episode (frames, seconds between them), or None."""
        return self._get("scan", episode_id, width, step, channel)

    def window(self, episode_id: str, width: int, channel: str = "luma") -> tuple[np.ndarray, float] | None:
        """Every frame of the episode at `width` and its fps (read_window's frames are a slice of them), or None."""
        return self._get("window", episode_id, width, None, channel)

    def stats(self) -> dict:
        return {"tracks": sorted(self.tracks), "episodes": len(self.episodes)}


def read_meta(directory: Path) -> dict:
    try:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{directory / META_FILE}: unreadable stored episode frames: {e}") from e
    if meta.get("format") != FORMAT:
        raise InputError(f"{directory / META_FILE}: stored episode frames of format {meta.get('format')}, "
                         f"expected {FORMAT}")
    return meta


def compute(episodes: list[tuple[str, str, Path]], tracks: list[Track], workers: int = 1,
            progress: Callable[[int, int, str], None] | None = None) -> Iterable:
    """(program id, episode id, outcome of read_tracks) for each (program id, episode id, video), in order, decoded in
    `workers` processes when more than 1."""
    from assoc.workers import run_each

    outcomes = run_each([(path, tuple(tracks)) for _, _, path in episodes], read_tracks, read_tracks, workers)
    for n, ((pid, eid, _), outcome) in enumerate(zip(episodes, outcomes), 1):
        if progress:
            progress(n, len(episodes), eid)
        yield pid, eid, outcome


def write(directory: Path, tracks: list[Track], computed: Iterable, failures: list[dict],
          videos: dict[str, Path] | None = None) -> dict:
    """Store the computed episodes' tracks in `directory` (created, or updated: an episode stored again is replaced);
    an episode that could not be read goes to `failures` ({program_id, episode_id, video, reason, stage}). Returns the
    manifest's section."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / META_FILE).is_file():
        meta = read_meta(directory)
        if [Track(**t) for t in meta["tracks"]] != list(tracks):
            raise InputError(f"{directory}: stored with other tracks than {[t.name for t in tracks]}")
    else:
        meta = {"format": FORMAT, "tracks": [asdict(t) for t in tracks], "episodes": {}}
    for pid, eid, outcome in computed:
        if isinstance(outcome, str):
            failures.append({"program_id": pid, "episode_id": eid, "video": str((videos or {}).get(eid, "")),
                             "reason": outcome, "stage": "episode_frames"})
            continue
        if eid in meta["episodes"]:
            _unlink(directory, meta["episodes"].pop(eid), tracks)
        name = _new_name(meta)
        entry = {"program_id": pid, "file": name}
        for t in tracks:
            frames, spacing = outcome[t.name]
            np.save(directory / f"{name}.{t.name}.npy", np.ascontiguousarray(frames, dtype=np.uint8))
            entry[t.name] = {"frames": int(len(frames)), "spacing": float(spacing)}
        meta["episodes"][eid] = entry
    return _save(directory, meta)


def _new_name(meta: dict) -> str:
    """A file name not used in this index (random, checked against those present): a lookup that opened the index
    before an update finds either the very frames it expects or nothing, never another episode's."""
    taken = {entry["file"] for entry in meta["episodes"].values()}
    while True:
        name = secrets.token_hex(8)
        if name not in taken:
            return name


def drop(directory: Path, program_ids: Iterable[str]) -> dict:
    """Remove these programs' episodes from the stored frames in `directory`; the manifest's section."""
    meta = read_meta(directory)
    tracks = [Track(**t) for t in meta["tracks"]]
    gone = set(program_ids)
    for eid in [e for e, entry in meta["episodes"].items() if entry["program_id"] in gone]:
        _unlink(directory, meta["episodes"].pop(eid), tracks)
    return _save(directory, meta)


def _save(directory: Path, meta: dict) -> dict:
    """Write the metadata; the manifest's section."""
    (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return section(directory, meta)


def _unlink(directory: Path, entry: dict, tracks: list[Track]) -> None:
    for t in tracks:
        (directory / f"{entry['file']}.{t.name}.npy").unlink(missing_ok=True)


def section(directory: Path, meta: dict) -> dict:
    """What the manifest says of the stored frames: the tracks, the episodes stored and the bytes on disk."""
    return {"tracks": [t["name"] for t in meta["tracks"]], "episodes": len(meta["episodes"]),
            "bytes": sum(p.stat().st_size for p in directory.iterdir() if p.is_file())}
