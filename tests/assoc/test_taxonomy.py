import pytest

from assoc.errors import TaxonomyError
from assoc.taxonomy import load_taxonomy


def test_committed_taxonomy_size_and_names(taxonomy):
    assert len(taxonomy.nodes(1)) >= 6
    assert len(taxonomy.nodes(2)) >= 30
    assert len(taxonomy.leaves()) >= 100
    for level in (1, 2, 3):
        for node in taxonomy.nodes(level):
            assert node.zh and node.en and len(node.path) == level
    tops = {n.zh for n in taxonomy.nodes(1)}
    assert {"电视剧", "电影", "综艺", "动漫", "纪录片", "少儿"} <= tops


def test_paths_validate_and_translate(taxonomy):
    taxonomy.validate_path(["电视剧", "古装", "宫廷"])
    assert taxonomy.english(["电视剧", "古装", "宫廷"]) == ["Series", "Costume", "Palace"]
    with pytest.raises(TaxonomyError, match="not in the taxonomy"):
        taxonomy.validate_path(["电视剧", "古装", "太空"])
    with pytest.raises(TaxonomyError, match="3 levels"):
        taxonomy.validate_path(["电视剧", "古装"])


@pytest.mark.parametrize("text,message", [
    ("categories: [{zh: A, en: A}]", "needs children"),
    ("categories: [{zh: A, children: [{zh: B, en: B, children: [{zh: C, en: C}]}]}]", "non-empty 'zh' and 'en'"),
    ("categories: [{zh: A, en: A, children: [{zh: B, en: B, children: [{zh: C, en: C, children: [{zh: D, en: D}]}]}]}]",
     "leaves"),
    ("nothing: here", "top-level 'categories'"),
    ("categories: [{zh: A, en: A, children: [{zh: B, en: B, children: [{zh: C, en: C}, {zh: C, en: D}]}]}]",
     "duplicate child"),
])
def test_malformed_taxonomies_name_the_problem(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(path)
