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
    # The DuckDB workspace where files are validated and a run's tables live (accord.workspace):
    # its memory limit (such as 4GB; unset, a quarter of physical memory), past which it
    # spills to disk, and the folder it is made in (unset, the system's temporary folder).
    duckdb_memory_limit: str | None = None
    scratch_dir: Path | None = None
    # Which engine links each register (docs/linkage.md#spark), as JSON: {"bank": "spark"};
    # "*" names the engine of every register not named.  Unset: DuckDB for all.  Spark's
    # master (local[*]: this machine's cores) and any other Spark settings, as JSON.
    linkage_engines: dict[str, str] = {}
    spark_master: str = "local[*]"
    spark_conf: dict[str, str] = {}
    # Staff single sign-on through OpenID Connect (docs/deploy.md#single-sign-on): the
    # provider's issuer, where its discovery document is (default: the issuer's
    # /.well-known/openid-configuration), Accord's client id and secret there, the scopes
    # asked for, the ID token claim that lists the user's groups, and which group gives
    # which role, as JSON: {"group": "reviewer" | "caseworker" | "auditor" | "admin" |
    # "recipient:<body>"}.  Unset issuer: local accounts only.
    oidc_issuer: str | None = None
    oidc_discovery_url: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile email"
    oidc_group_claim: str = "groups"
    oidc_roles: dict[str, str] = {}
    # Where the provider sends the browser back, when Accord is behind a proxy that
    # changes its address: https://accord.example/login/oidc/callback.
    oidc_redirect_url: str | None = None
    # Logs: "text" (as a terminal shows them) or "json" (one object a line, with a request id).
    log_format: str = "text"


def settings(database: str | None = None) -> Settings:
    s = Settings()
    if database:
        s = s.model_copy(update={"database_url": database})
    return s
