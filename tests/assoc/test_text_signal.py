"""The text signal end to end on the tiny universe: tantivy on disk, fuzzy, semantic, fusion."""

import pytest

from assoc.catalog import load_catalog
from assoc.index_reader import open_index
from assoc.lookup import Lookup
from assoc.text.signal import TextSignal


@pytest.fixture(scope="module")
def text_lookup(tiny_index):
    return Lookup(open_index(tiny_index), signals=["text"])


@pytest.fixture(scope="module")
def programs(tiny_universe, taxonomy):
    return load_catalog(tiny_universe / "catalog.jsonl", taxonomy).programs


def test_titles_aliases_and_names_find_their_program(text_lookup, programs):
    import zhconv

    for p in programs:
        for title in (f"【{p.title}】名场面", zhconv.convert(p.title, "zh-hant") + " 高能", f"{p.aliases[0]} EP2",
                      f"{p.characters[0]} {p.cast[0]} cut"):
            result = text_lookup.lookup_video(None, "c", title=title)
            assert result.candidates[0].program_id == p.program_id, title
    top = text_lookup.lookup_video(None, "c", title=f"【{programs[0].title}】").candidates[0]
    assert top.evidence.text.fuzzy == 100 and top.evidence.text.field == "title" and top.evidence.text.bm25 > 0
    assert top.evidence.visual is None and top.episode_id is None


def test_text_without_a_name_gives_no_candidates(text_lookup):
    result = text_lookup.lookup_video(None, "c", title="绝了绝了")
    assert result.candidates == [] and result.match is None and "text" in result.timings_ms


def test_unreachable_elasticsearch_degrades_the_lookup(tiny_index):
    index = open_index(tiny_index, es={"url": "http://127.0.0.1:9", "timeout": 0.5, "retries": 0})
    section = dict(index.manifest["text"], text_index={"backend": "elasticsearch", "alias": "assoc-programs"})
    signal = TextSignal(index.path, section, list(index.programs.values()), index.es)
    index._text = signal
    index.manifest = dict(index.manifest, signals=["text"])
    result = Lookup(index, signals=["text"]).lookup_video(None, "c", title="长安秘闻录")
    assert result.degraded == ["text"] and result.candidates == [] and result.match is None


def test_a_character_name_alone_finds_its_program_through_the_entity_dictionary(text_lookup, programs):
    signal = text_lookup.index.text_signal()
    for p in programs:
        owners = {q.program_id for q in programs if p.characters[-1] in q.characters}
        cands = signal.candidates(f"{p.characters[-1]} 名场面")
        assert cands[0].program_id in owners and cands[0].entity == "characters", p.characters[-1]
        assert {c.program_id for c in cands if c.entity} == owners and cands[0].entity_share == len(owners)
