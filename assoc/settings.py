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

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)
