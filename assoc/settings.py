"""The one settings object read by the CLI and the service (`ASSOC_*` variables, optional assoc.toml).

Defined here so both share it; the library itself never instantiates it.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSOC_", toml_file="assoc.toml", extra="ignore")

    workers: int = 0  # 0: one per CPU core
    lookup_fps: float = 2.0
    lookup_max_frames: int = 16
    neighbours: int = 10
    top_k: int = 10
    threshold: float | None = None  # None: the index's own open-set threshold
    catalog_root: str | None = None  # the catalog's videos, for verification; None: beside the index's catalog file
    scan_cache_mb: float = 256.0  # episodes' scan frames kept in memory between lookups (verification's scan); 0: none
    vector_device: str = "auto"  # auto: the GPU when faiss-gpu sees CUDA; cpu: never; gpu: required
    # the lookup service (assoc serve)
    api_key: str | None = None  # when set, every /v1 route needs it in the X-API-Key header
    media_root: str | None = None  # JSON requests may name clip files under it (and nowhere else)
    max_upload_mb: float = 200.0
    max_clip_seconds: float = 330.0
    max_batch: int = 32
    serve_workers: int = 2  # lookups that run at once in the service
    serve_processes: int = 0  # the service's lookups run in this many processes, one index copy each; 0: in threads
    # Elasticsearch (text backend "elasticsearch")
    es_url: str | None = None
    es_username: str | None = None
    es_password: str | None = None
    es_api_key: str | None = None
    es_verify_certs: bool = True
    es_ca_certs: str | None = None
    es_timeout: float = 10.0
    es_retries: int = 3
    es_alias: str = "assoc-programs"

    def es(self) -> dict | None:
        """Connection settings for indexes.text.elasticsearch_index, or None without ASSOC_ES_URL."""
        if not self.es_url:
            return None
        return {"url": self.es_url, "username": self.es_username, "password": self.es_password,
                "api_key": self.es_api_key, "verify_certs": self.es_verify_certs, "ca_certs": self.es_ca_certs,
                "timeout": self.es_timeout, "retries": self.es_retries}

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)
