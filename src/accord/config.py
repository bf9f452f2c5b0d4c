"""Settings: command-line flags win, then ``ACCORD_*`` environment variables, then defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///accord.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCORD_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Ed25519 key that signs ledger tree heads; created by `accord init` when missing.
    ledger_key: Path = Path("accord-ledger.key")
    # Optional policy file; the built-in safe defaults apply when it is not set.
    policy: Path | None = None
    # Where every signed tree head is also published, append-only: a .jsonl file, a
    # folder (served over HTTP), or s3://bucket/prefix; unset, heads stay in the database
    # alone (docs/deploy.md, accord.ledger.publish).
    publish_heads: str | None = None
    # How a person reaches the data protection officer (an address, an email), shown on
    # their page beside how to dispute; unset, the page says to write to the DPO.
    dpo_contact: str | None = None


def settings(database: str | None = None) -> Settings:
    s = Settings()
    if database:
        s = s.model_copy(update={"database_url": database})
    return s
