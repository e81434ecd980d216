"""One conformance class for every text backend, checked against the brute-force BM25 reference.

The Elasticsearch class runs against a real server when ASSOC_ES_URL is set and skips otherwise;
there is no fake server.
"""

import os

import pytest

from indexes.errors import UnknownBackendError
from indexes.text import TextDoc, TextQuery, create_text_index, list_text_backends
from indexes.text.reference import BruteForceTextIndex
from indexes.text.tantivy_index import TantivyTextIndex

DOCS = [
    TextDoc("p1", "长安秘闻录", ["Chang'an Secret Files", "長安秘聞錄", "长安"], ["沈砚", "柳如烟"], ["林晓", "周启明"],
            "古装宫廷剧。沈砚与柳如烟的故事 running through the palace", 2021, ["电视剧", "古装", "宫廷"]),
    TextDoc("p2", "长安秘闻录 第二季", ["Chang'an Secret Files Season 2"], ["沈砚", "柳如烟", "王一"], ["林晓", "周启明"],
            "古装宫廷剧第二季", 2023, ["电视剧", "古装", "宫廷"]),
    TextDoc("p3", "长安恋歌", ["Chang'an Love Song"], ["王一"], ["韩梅"], "都市情感 the runner", 2020, ["电视剧", "都市", "情感"]),
    TextDoc("p4", "星际行动", ["Interstellar Operation"], ["李雷", "月"], ["韩梅梅"], "science fiction about stars", 2019,
            ["电影", "科幻", "太空"]),
    TextDoc("p5", "舌尖上的中国", ["A Bite of China"], [], ["陈晓卿"], "美食纪录片 food documentary", 2012,
            ["纪录片", "人文", "美食人文"]),
]
QUERIES = [TextQuery(["长安秘闻录"], "名场面"), TextQuery([], "chang'an secret files"), TextQuery(["柳如烟"]),
           TextQuery(["Interstellar Operations"]), TextQuery([], "food documentaries"), TextQuery(["月"]),
           TextQuery(["长安秘闻录 第二季"]), TextQuery([], "AND OR: (NOT) ^2 *")]


class TextIndexConformance:
    backend = ""
    exact_scores = True  # the embedded backends must score exactly like the reference

    @pytest.fixture
    def index(self, tmp_path):
        idx = self.make(tmp_path)
        assert idx.add(DOCS) == []
        return idx

    def make(self, tmp_path):
        raise NotImplementedError

    def test_count(self, index):
        assert index.count() == len(DOCS)

    @pytest.mark.parametrize("query", QUERIES, ids=lambda q: "|".join(q.names) + "/" + q.text)
    def test_ranking_matches_reference(self, index, query):
        ref = BruteForceTextIndex()
        ref.add(DOCS)
        got, want = index.search(query, 5), ref.search(query, 5)
        if self.exact_scores:
            assert [h.program_id for h in got] == [h.program_id for h in want]
            assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-4)
        else:
            assert got and want and got[0].program_id == want[0].program_id

    def test_title_finds_program_first(self, index):
        assert index.search(TextQuery(["长安秘闻录"]), 3)[0].program_id == "p1"
        assert index.search(TextQuery(["星际行动"]), 3)[0].program_id == "p4"

    def test_one_character_name_matches(self, index):
        assert index.search(TextQuery(["月"]), 3)[0].program_id == "p4"

    def test_stemming(self, index):
        assert index.search(TextQuery([], "documentaries"), 3)[0].program_id == "p5"

    def test_empty_query_gives_nothing(self, index):
        assert index.search(TextQuery([], "  "), 3) == []

    def test_replace_and_remove(self, index):
        index.add([TextDoc("p4", "太空漫游", [], [], [], "")])
        assert index.count() == len(DOCS)
        assert all(h.program_id != "p4" for h in index.search(TextQuery(["星际行动"]), 5))
        assert index.remove(["p4", "p5"]) == 2 and index.count() == len(DOCS) - 2


class TestBruteForce(TextIndexConformance):
    backend = "bruteforce"

    def make(self, tmp_path):
        return create_text_index("bruteforce")


class TestTantivy(TextIndexConformance):
    backend = "tantivy"

    def make(self, tmp_path):
        return create_text_index("tantivy", tmp_path / "tantivy")

    def test_reopen_registers_the_analyzer_again(self, index, tmp_path):
        again = TantivyTextIndex.open(tmp_path / "tantivy")
        assert again.count() == len(DOCS)
        assert again.search(TextQuery([], "documentaries"), 1)[0].program_id == "p5"  # stemmed on query too


ES_URL = os.environ.get("ASSOC_ES_URL")


@pytest.mark.skipif(not ES_URL, reason="Elasticsearch integration tests need a real server: set ASSOC_ES_URL")
class TestElasticsearch(TextIndexConformance):
    backend = "elasticsearch"
    exact_scores = False  # the server analyses with its own cjk/english analyzers

    def make(self, tmp_path):
        return create_text_index("elasticsearch", url=ES_URL, alias=f"assoc-test-{tmp_path.name.lower()}")

    def test_one_character_name_matches(self, index):
        pytest.skip("the cjk analyzer makes bigrams only: one-character names are an embedded-backend feature")


def test_every_backend_has_a_conformance_class():
    assert set(list_text_backends()) == {c.backend for c in TextIndexConformance.__subclasses__()}


def test_unknown_text_backend():
    with pytest.raises(UnknownBackendError, match="known: tantivy, elasticsearch, bruteforce"):
        create_text_index("solr")
