"""Settings, read from the environment (prefix ``ASSESS_``) when asked for, never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the project reads from its environment.

    Secrets are ``SecretStr`` so they never appear in logs or reprs.
    """

    model_config = SettingsConfigDict(env_prefix="ASSESS_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"), description="Folder for the SQLite file and exports."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default a SQLite file under data_dir."
    )
    platform_url: str = "http://127.0.0.1:8700"
    platform_token: SecretStr = SecretStr("demo-token")
    platform_unit_url: str | None = Field(
        default=None,
        description="URL template of a unit's data on the platform, ending each digest; "
        "{unit_code} and {year} are filled in, e.g. "
        "https://kaohe.example.gov.cn/units/{unit_code}?year={year}. Unset: no link.",
    )
    ops_channels: list[SecretStr] = Field(
        default_factory=list, description="Apprise URLs of the office's operations channel."
    )
    calendar_overrides: Path | None = Field(
        default=None, description="YAML file with the office's extra holidays and working days."
    )
    batch_concurrency: int = Field(
        default=1,
        ge=1,
        le=8,
        description="Batches of a cycle worked on at once (threads; more only for a remote "
        "PostgreSQL, never on SQLite).",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'assessment.db').resolve()}"


def get_settings() -> Settings:
    """Build the settings now (from the current environment)."""
    return Settings()
