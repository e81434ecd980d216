"""Elasticsearch backend, written against the official client.

- An index template gives every versioned index the same mapping: each text field analysed by
  the built-in `cjk` analyzer (overlapping bigrams) with an `.en` sub-field (english analyzer).
- A rebuild writes a new versioned index, then moves the alias in one atomic `_aliases` call.
- Bulk indexing reports each failed document by its program id.
- Fusion happens in our code: server-side RRF needs a paid licence.
- Servers 8 and 9: the 9.x client asks for `compatible-with=9` in Accept/Content-Type, which 8.x
  servers refuse (media_type_header_exception). We read the server's version with a plain
  `GET /` and, for an 8.x server, rewrite the two headers to `compatible-with=8` on this client's
  transport (not globally). 8.x servers accept compatibility versions 7 and 8.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from indexes.errors import IndexBackendError
from indexes.text.base import FIELD_BOOSTS, TEXT_FIELDS, DocFailure, TextDoc, TextHit, TextIndex, TextQuery

DEFAULT_ALIAS = "assoc-programs"  # versioned indexes are named ALIAS-<timestamp>; the template matches ALIAS-*


class TextBackendUnavailable(IndexBackendError):
    """The text backend's server cannot be reached."""


def index_template(alias: str = DEFAULT_ALIAS) -> dict:
    """The composable index template body (PUT _index_template/<alias>)."""
    text = {"type": "text", "analyzer": "cjk", "fields": {"en": {"type": "text", "analyzer": "english"}}}
    return {
        "index_patterns": [f"{alias}-*"],
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "program_id": {"type": "keyword"},
                    **{f: dict(text) for f in TEXT_FIELDS},
                    "year": {"type": "integer"},
                    "category": {"type": "keyword"},
                },
            },
        },
    }


def _boosted(fields: Iterable[str]) -> list[str]:
    out = []
    for f in fields:
        out += [f"{f}^{FIELD_BOOSTS[f]:g}", f"{f}.en^{FIELD_BOOSTS[f]:g}"]
    return out


def search_body(query: TextQuery, k: int) -> dict:
    """The query DSL for one clip: names against titles, aliases, characters and cast (boosted x2),
    the rest of the text against every field. `best_fields` (fuzziness would do nothing for
    two-character cjk tokens, and it is not allowed with cross_fields)."""
    should: list[dict[str, Any]] = []
    names = " ".join(n for n in query.names if n.strip())
    if names:
        should.append({"multi_match": {"query": names, "type": "best_fields", "boost": 2.0,
                                       "fields": _boosted(("title", "aliases", "characters", "cast"))}})
    if query.text.strip():
        should.append({"multi_match": {"query": query.text, "type": "best_fields", "fields": _boosted(TEXT_FIELDS)}})
    return {"size": k, "_source": ["program_id"], "query": {"bool": {"should": should, "minimum_should_match": 1}}}


def document(doc: TextDoc) -> dict:
    return {"program_id": doc.program_id, **{f: doc.field_text(f) for f in TEXT_FIELDS},
            "year": doc.year, "category": "/".join(doc.category)}


def _client(url: str, username: str | None, password: str | None, api_key: str | None,
            verify_certs: bool, ca_certs: str | None, timeout: float, retries: int):
    from elasticsearch import Elasticsearch

    kwargs: dict[str, Any] = {"request_timeout": timeout, "max_retries": retries, "retry_on_timeout": True,
                              "verify_certs": verify_certs}
    if ca_certs:
        kwargs["ca_certs"] = ca_certs
    if api_key:
        kwargs["api_key"] = api_key
    elif username:
        kwargs["basic_auth"] = (username, password or "")
    return Elasticsearch(url, **kwargs)


def server_major(client) -> int:
    """The server's major version, asked with plain JSON headers that every version accepts."""
    from elastic_transport import ApiError, TransportError

    try:
        _, body = client.transport.perform_request("GET", "/", headers={"accept": "application/json"})
    except (TransportError, ApiError, OSError) as e:
        raise TextBackendUnavailable(f"Elasticsearch is unreachable: {e}") from e
    try:
        return int(str(body["version"]["number"]).split(".")[0])
    except (KeyError, TypeError, ValueError) as e:
        raise TextBackendUnavailable(f"not an Elasticsearch server (GET / answered {body!r:.200})") from e


def use_compat_headers(client, major: int) -> None:
    """Make this client's requests ask for `compatible-with=<major>` (see the module docstring)."""
    import elasticsearch

    client_major = int(elasticsearch.__versionstr__.split(".")[0])
    if major >= client_major:
        return
    transport = client.transport
    original = transport.perform_request
    wrong, right = f"compatible-with={client_major}", f"compatible-with={major}"

    def perform_request(method, target, *args, headers=None, **kwargs):
        if headers is not None:
            headers = headers.copy()
            for h in ("accept", "content-type"):
                if h in headers and wrong in headers[h]:
                    headers[h] = headers[h].replace(wrong, right)
        return original(method, target, *args, headers=headers, **kwargs)

    transport.perform_request = perform_request


class ElasticsearchTextIndex(TextIndex):
    name = "elasticsearch"

    def __init__(self, client, alias: str, index: str | None):
        self.client, self.alias, self.index = client, alias, index
        self.major: int | None = None

    def _ready(self):
        """Ask the server's version once (lazily, so an unreachable server fails a lookup, not a start)."""
        if self.major is None:
            major = server_major(self.client)
            if major < 8:
                raise IndexBackendError(f"Elasticsearch {major}.x is not supported (8 or newer is)")
            use_compat_headers(self.client, major)
            self.major = major
        return self.client

    @classmethod
    def create(cls, url: str, alias: str = DEFAULT_ALIAS, username=None, password=None, api_key=None,
               verify_certs=True, ca_certs=None, timeout: float = 10.0, retries: int = 3) -> "ElasticsearchTextIndex":
        """Put the template and create a new versioned index; the alias moves at `publish()`."""
        client = _client(url, username, password, api_key, verify_certs, ca_certs, timeout, retries)
        index = f"{alias}-{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 1_000_000:06d}"
        es = cls(client, alias, index)
        body = index_template(alias)
        es._ready().indices.put_index_template(name=alias, index_patterns=body["index_patterns"],
                                               template=body["template"])
        client.indices.create(index=index)
        return es

    @classmethod
    def connect(cls, url: str, alias: str = DEFAULT_ALIAS, username=None, password=None, api_key=None,
                verify_certs=True, ca_certs=None, timeout: float = 10.0, retries: int = 3) -> "ElasticsearchTextIndex":
        return cls(_client(url, username, password, api_key, verify_certs, ca_certs, timeout, retries), alias, None)

    @property
    def _target(self) -> str:
        return self.index or self.alias

    def add(self, docs: Iterable[TextDoc]) -> list[DocFailure]:
        from elasticsearch.helpers import streaming_bulk

        self._ready()
        actions = ({"_index": self._target, "_id": d.program_id, "_source": document(d)} for d in docs)
        failures = []
        for ok, item in streaming_bulk(self.client, actions, raise_on_error=False, raise_on_exception=False,
                                       max_retries=2, chunk_size=500):
            if not ok:
                info = next(iter(item.values()))
                failures.append(DocFailure(str(info.get("_id")), str(info.get("error"))[:300]))
        self.client.indices.refresh(index=self._target)
        return failures

    def publish(self) -> None:
        """Point the alias at the new index in one atomic _aliases call; older indexes stay for rollback."""
        self._ready()
        actions: list[dict] = [{"remove": {"index": f"{self.alias}-*", "alias": self.alias}}] \
            if self.client.indices.exists_alias(name=self.alias) else []
        actions.append({"add": {"index": self.index, "alias": self.alias}})
        self.client.indices.update_aliases(actions=actions)

    def remove(self, program_ids: Iterable[str]) -> int:
        ids = list(program_ids)
        resp = self._ready().delete_by_query(index=self._target, query={"terms": {"program_id": ids}}, refresh=True)
        return int(resp.get("deleted", 0))

    def search(self, query: TextQuery, k: int = 10) -> list[TextHit]:
        from elastic_transport import ConnectionError as ESConnectionError
        from elastic_transport import ConnectionTimeout

        if query.is_empty():
            return []
        try:
            body = search_body(query, k)
            resp = self._ready().search(index=self._target, query=body["query"], size=body["size"], source=body["_source"])
        except (ESConnectionError, ConnectionTimeout) as e:
            raise TextBackendUnavailable(f"Elasticsearch is unreachable: {e}") from e
        return [TextHit(h["_source"]["program_id"], float(h["_score"]), i)
                for i, h in enumerate(resp["hits"]["hits"], 1)]

    def count(self) -> int:
        return int(self._ready().count(index=self._target)["count"])

    def save(self, directory) -> dict:
        return {"backend": self.name, "alias": self.alias, "index": self.index, "server_major": self.major,
                "note": "connection settings come from ASSOC_ES_* at run time; none are stored here"}
