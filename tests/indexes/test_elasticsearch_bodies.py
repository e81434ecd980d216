"""The Elasticsearch mapping and query bodies against the JSON documented in docs/elasticsearch.md,
and the behaviour without a server (no fake server: these need none)."""

import json
import re
from pathlib import Path

import pytest

from indexes.text.base import TextQuery
from indexes.text.elasticsearch_index import ElasticsearchTextIndex, TextBackendUnavailable, index_template, search_body

DOC = Path(__file__).resolve().parents[2] / "docs" / "elasticsearch.md"


def documented_json() -> list[dict]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)]


def test_template_is_the_documented_one():
    template, _ = documented_json()
    assert index_template() == template
    props = template["template"]["mappings"]["properties"]
    assert props["title"] == {"type": "text", "analyzer": "cjk", "fields": {"en": {"type": "text", "analyzer": "english"}}}
    assert props["program_id"] == {"type": "keyword"} and props["year"] == {"type": "integer"}


def test_query_is_the_documented_one():
    _, query = documented_json()
    assert search_body(TextQuery(names=["长安秘闻录"], text="长安秘闻录"), 10) == query
    should = query["query"]["bool"]["should"]
    assert "title^4" in should[0]["multi_match"]["fields"] and "description^0.5" in should[1]["multi_match"]["fields"]
    assert all("fuzziness" not in s["multi_match"] for s in should)


def test_names_only_and_text_only_queries():
    names_only = search_body(TextQuery(names=["沈砚"]), 5)["query"]["bool"]["should"]
    assert len(names_only) == 1 and names_only[0]["multi_match"]["boost"] == 2.0
    text_only = search_body(TextQuery(text="food"), 5)["query"]["bool"]["should"]
    assert len(text_only) == 1 and "boost" not in text_only[0]["multi_match"]


def test_unreachable_server_is_reported_at_use_not_at_connect():
    es = ElasticsearchTextIndex.connect("http://127.0.0.1:9", timeout=0.5, retries=0)
    with pytest.raises(TextBackendUnavailable, match="Elasticsearch is unreachable"):
        es.search(TextQuery(names=["长安"]))
