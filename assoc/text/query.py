"""Query understanding for clip titles: names, episode markers, platform noise, a fielded query."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assoc.text.normalize import normalize
from indexes.text.base import TextQuery

CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"(\d+|[零一二两三四五六七八九十]+)"
# platform noise: words uploaders add that name no program (matched whole, case-insensitive)
NOISE = ("名场面合集", "名场面", "高能", "混剪", "合集", "神剪辑", "花絮", "名台词", "抢先看", "必看", "太好哭了", "笑死",
         "高光", "演技", "reaction", "highlights", "best moments", "fan edit", "full scene", "compilation", "must watch",
         "cut", "lol", "edit", "clip", "shorts", "这段太好笑了", "今天的快乐", "绝了绝了", "看哭了", "经典片段", "随手分享",
         "不看后悔", "this scene though", "wait for it", "omg")
_NOISE_RE = re.compile("|".join(re.escape(n).replace(r"\ ", r"\s+") for n in sorted(NOISE, key=len, reverse=True)),
                       re.IGNORECASE)
_BRACKETS = re.compile(r"[《【「『“\"]([^》】」』”\"]{1,40})[》】」』”\"]")
_EPISODE = re.compile(rf"第{_NUM}集|\bEP\.?\s?(\d+)\b|\bE(\d+)\b|\bPart\s?(\d+)\b|\bS(\d+)\s?E(\d+)\b|第{_NUM}季|\bSeason\s?(\d+)\b",
                      re.IGNORECASE)
_SEASON = re.compile(rf"第{_NUM}季|\bS\d+\s?E\d+\b|\bSeason\s?\d+\b", re.IGNORECASE)
_HASHTAG = re.compile(r"#\S+")
_SEPARATORS = re.compile(r"[|｜/\\·•:：,，。!！?？~～\-—_()（）\[\]]+")


def cn_to_int(s: str) -> int | None:
    if s.isdigit():
        return int(s)
    if not s or any(c not in CN_DIGITS and c != "十" for c in s):
        return None
    if "十" in s:
        tens, _, ones = s.partition("十")
        return (CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS.get(ones, 0) if ones else 0)
    return CN_DIGITS[s[0]] if len(s) == 1 else None


def _cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    return ("" if n < 20 else digits[n // 10]) + "十" + (digits[n % 10] if n % 10 else "")


_TOKEN = re.compile(r"[^\s《》【】「」『』“”\"|｜/\\·•:：,，。!！?？~～\-—_()（）\[\]]+")
_NUMERALS = "二三四五六七八九十"
_COUNTERS = set("集期名次部章话回个天年位")  # 第二集, 第二名...: markers of other things, never seasons
GUESSED_SEASONS = (2, 3, 4)  # an unreadable season number: the seasons a title is tried with


def fuzzy_season(token: str) -> int | None:
    """A season marker one typo away from 第N季 (N = 2-10): its number, 0 when unreadable, else None.

    二季 and 问二季 (第 dropped or replaced), 第二问 (季 replaced), 第季 and 第安季 (the number lost)."""
    if not 2 <= len(token) <= 3 or re.fullmatch(rf"第{_NUM}季", token):
        return None
    if "季" in token:
        if re.fullmatch(rf".?[{_NUMERALS}]季", token):
            return cn_to_int(token[-2])
        if re.fullmatch("第.?季", token):
            return 0
        return None
    if len(token) == 3 and token[0] == "第" and token[1] in _NUMERALS and token[2] not in _COUNTERS:
        return cn_to_int(token[1])
    return None


@dataclass
class ParsedTitle:
    names: list[str] = field(default_factory=list)  # candidate program names, most likely first
    episode: int | None = None
    season: int | None = None  # 0: a season marker whose number a typo made unreadable
    part: int | None = None
    text: str = ""  # the cleaned remainder: noise, markers and hashtags removed
    # the title's pieces with only their outermost noise word removed: "Arena Highlights highlights"
    # keeps the title word that `text` lost with the noise ("Arena"); compared as titles, never searched
    variants: list[str] = field(default_factory=list)

    def to_query(self) -> TextQuery:
        return TextQuery(names=list(self.names), text=self.text)


def parse_title(title: str, description: str = "") -> ParsedTitle:
    """Extract names (《》, 【】, quotes, text before an episode marker), markers, and clean text."""
    text = normalize(f"{title} {description}")
    parsed = ParsedTitle()
    first_marker = None
    if not _SEASON.search(text):
        for i, m in enumerate(_TOKEN.finditer(text)):
            season = fuzzy_season(m.group(0)) if i else None  # a first token is a name (四季), never a marker
            if season is not None:
                parsed.season, first_marker = season, m.start()
                text = text[:m.start()] + " " + text[m.end():]  # the garbled marker is not searchable text
                break
    names = [m.group(1).strip() for m in _BRACKETS.finditer(text)]
    for m in _EPISODE.finditer(text):
        first_marker = m.start() if first_marker is None else min(first_marker, m.start())
        g = m.groups()
        if g[0] or g[1] or g[2]:
            parsed.episode = parsed.episode or cn_to_int(g[0] or g[1] or g[2])
        elif g[3]:
            parsed.part = int(g[3])
        elif g[4]:
            parsed.season, parsed.episode = int(g[4]), int(g[5])
        else:
            parsed.season = cn_to_int(g[6] or g[7] or "")
    if first_marker:
        before = re.sub(r"[《》【】「」『』“”\"]", " ", _BRACKETS.sub(" ", text[:first_marker]))
        before = _NOISE_RE.sub(" ", _SEPARATORS.sub(" ", before)).strip()
        if before:
            names.append(before)
    cleaned = _HASHTAG.sub(lambda m: " " + m.group(0)[1:] + " ", text)
    cleaned = _EPISODE.sub(" ", cleaned)
    if parsed.season and parsed.season >= 2:  # seasons are part of program titles: keep them searchable
        cleaned += f" 第{_cn(parsed.season)}季 season {parsed.season}"
    cleaned = _NOISE_RE.sub(" ", cleaned)
    cleaned = _SEPARATORS.sub(" ", re.sub(r"[《》【】「」『』“”\"]", " ", cleaned))
    parsed.text = re.sub(r"\s+", " ", cleaned).strip()
    names = [n for n in (_NOISE_RE.sub(" ", x).strip() for x in names) if n]
    if parsed.season and parsed.season >= 2:  # "X 第二季" names the season's program, not X
        names = [_with_season(n, parsed.season) for n in names]
    elif parsed.season == 0:  # some later season of X: try the likely ones
        names = [_with_season(n, s) for n in names for s in GUESSED_SEASONS]
    seen: set[str] = set()
    parsed.names = [n for n in names if not (n in seen or seen.add(n))]
    parsed.variants = [v for v in _outer_noise_stripped(title) if v not in seen and not seen.add(v)]
    return parsed


def _outer_noise_stripped(title: str) -> list[str]:
    """Pieces of the title (between brackets and separators) that hold a noise word and something
    else, whole and with the noise word at each end removed: a title word may be a noise word."""
    out = []
    for piece in _SEPARATORS.split(re.sub(r"[《》【】「」『』“”\"]", "|", _EPISODE.sub(" ", normalize(title)))):
        piece = piece.strip()
        if not _NOISE_RE.search(piece) or not _NOISE_RE.sub("", piece).strip():
            continue
        trimmed = re.sub(rf"^(?:{_NOISE_RE.pattern})\s*|\s*(?:{_NOISE_RE.pattern})$", "", piece, flags=re.IGNORECASE)
        out += [piece] + ([trimmed.strip()] if _NOISE_RE.search(trimmed) else [])
    return out


def _with_season(name: str, season: int) -> str:
    if f"第{_cn(season)}季" in name or re.search(rf"season\s?{season}\b", name, re.IGNORECASE):
        return name
    if re.search(r"[\u4e00-\u9fff]", name):
        return f"{name} 第{_cn(season)}季"
    return f"{name} Season {season}"
