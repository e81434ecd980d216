"""The catalog, query and result contracts of design.md as pydantic models."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Episode(_Strict):
    episode_id: str = Field(min_length=1)
    number: int = Field(ge=1)
    video: str = Field(min_length=1, description="path relative to the catalog file")


class Program(_Strict):
    program_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    aliases: list[str] = []
    category: list[str] = Field(min_length=3, max_length=3)
    cast: list[str] = []
    characters: list[str] = []
    year: Optional[int] = Field(default=None, ge=1900, le=2100)
    description: str = ""
    episodes: list[Episode] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_episodes(self) -> "Program":
        ids = [e.episode_id for e in self.episodes]
        if len(set(ids)) != len(ids):
            raise ValueError("episode_id values must be unique within a program")
        return self


class Clip(_Strict):
    clip_id: str = Field(min_length=1)
    video: str = Field(min_length=1, description="path relative to the queries file")
    title: str = ""
    description: str = ""
    program_id: Optional[str] = None
    episode_id: Optional[str] = None
    start: Optional[float] = Field(default=None, ge=0)
    end: Optional[float] = Field(default=None, ge=0)
    edits: list[str] = []
    mention: Optional[str] = None
    category: Optional[list[str]] = None

    @field_validator("category")
    @classmethod
    def _three_levels(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        if v is not None and len(v) != 3:
            raise ValueError("category must have exactly three levels")
        return v

    @model_validator(mode="after")
    def _ordered_range(self) -> "Clip":
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class Segment(BaseModel):
    """A stretch of the clip aligned to one place of an episode (a spliced clip has two)."""

    episode_id: str
    start: float
    end: float
    clip_start: float
    clip_end: float
    speed: float


class _OmitUnset(BaseModel):
    """Optional extras that are None are left out of the JSON, so results read as design.md shows them."""

    @model_serializer(mode="wrap")
    def _omit_none(self, handler):
        data = handler(self)
        return {k: v for k, v in data.items() if v is not None or k in self._required()}

    @classmethod
    def _required(cls) -> set[str]:
        return {name for name, f in cls.model_fields.items() if f.is_required()}


class VisualEvidence(_OmitUnset):
    votes: int
    frames: int
    similarity: float
    consistency: Optional[float] = None  # share of voting frames on the time alignment
    speed: Optional[float] = None  # source seconds per clip second on that alignment
    segments: Optional[list[Segment]] = None  # only for a clip spliced from two places


class TextEvidence(BaseModel):
    bm25: Optional[float] = None
    fuzzy: Optional[float] = None
    field: Optional[str] = None
    semantic: Optional[float] = None  # cosine of the clip's text and the program's text


class CategoryEvidence(_OmitUnset):
    agree_levels: int  # levels (from the top) where the clip's predicted path equals the program's
    prior: Optional[list[float]] = None  # the clip's probability of the program's category at levels 1-3


class VerificationEvidence(BaseModel):
    """The candidate's alignment checked against its episode's own frames (assoc.verify)."""

    episode_id: str
    fit: float  # normalised cross-correlation at one transform for all verified frames (best 3/4 of them)
    frames: int  # clip frames compared
    scale: float  # clip width / episode width of that transform (1: no crop)
    flipped: bool
    offset: float  # seconds the best match lay from the alignment's predicted source time, on average
    # the pictures' detail correlated at that transform (best 3/4 of the frames), when the re-ranker reads it
    detail: Optional[float] = None
    # the picture compared (assoc.verify.CHANNELS): "luma", or "value" where luminance did not confirm the program
    channel: str = "luma"


class Evidence(BaseModel):
    visual: Optional[VisualEvidence] = None
    text: Optional[TextEvidence] = None
    category: Optional[CategoryEvidence] = None
    # another encoder's visual evidence (name -> evidence), when the re-ranker read it; left out otherwise
    aux_visual: Optional[dict[str, VisualEvidence]] = None
    # the verification against the episode, when the re-ranker read it and this candidate was verified
    verification: Optional[VerificationEvidence] = None

    @model_serializer(mode="wrap")
    def _omit_aux(self, handler):
        data = handler(self)
        for key in ("aux_visual", "verification"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class Candidate(BaseModel):
    program_id: str
    title: str
    score: float
    episode_id: Optional[str] = None
    start: Optional[float] = None
    end: Optional[float] = None
    evidence: Evidence = Evidence()


class CategoryPrediction(BaseModel):
    levels: list[tuple[str, float]] = []


class Result(BaseModel):
    clip_id: str
    match: Optional[str] = None
    confidence: float = 0.0
    candidates: list[Candidate] = []
    category: CategoryPrediction = CategoryPrediction()
    degraded: list[str] = []
    timings_ms: dict[str, float] = {}
    error: Optional[str] = Field(default=None, description="set when the clip could not be processed")
