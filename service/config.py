import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service, read once from FORMWRIGHT_* variables."""

    model_config = SettingsConfigDict(env_prefix="FORMWRIGHT_", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where SQLite, the broker and caches live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; SQLite under data_dir.")
    broker_url: str | None = Field(None, description="Celery broker; SQLite under data_dir.")
    artifacts_dir: Path | None = Field(None, description="Adapters; data_dir/artifacts.")
    base_model: str | None = Field(None, description="Local model dir; SmolLM2-135M by default.")
    base_models: str | None = Field(
        None,
        description="More base models loaded beside base_model (comma-separated local dirs), "
        "memory permitting: adapters trained on them keep serving.",
    )
    teacher_url: str | None = Field(None, description="OpenAI-compatible teacher endpoint.")
    teacher_model: str | None = Field(None, description="The teacher endpoint's model name.")
    teacher_api_key: str | None = Field(None, description="The teacher endpoint's API key.")
    load_model: bool = Field(True, description="Load the base model at start (tests turn off).")

    max_loaded_adapters: int = Field(8, description="Adapters kept attached (LRU).")
    serve_weights: Literal["dense", "int4"] = Field(
        "dense",
        description="How the model runtime holds its linear layers: `int4` decodes faster on "
        "CPU; its greedy answers are close to `dense`'s, not identical (README).",
    )
    malloc: Literal["jemalloc", "system"] = Field(
        "jemalloc",
        description="The worker's allocator: jemalloc (preloaded where installed) trains "
        "8-16% faster on CPU than glibc's malloc; `system` keeps glibc's.",
    )
    max_batch_size: int = Field(8, ge=1, description="Rows decoded together; 1 = no batching.")
    max_body_bytes: int = Field(4 * 1024 * 1024, description="Largest request body accepted.")
    max_input_tokens: int = Field(1024, description="Largest generate input, in tokens.")
    max_output_tokens: int = Field(1024, description="Cap on max_tokens.")
    default_max_tokens: int = Field(256, description="max_tokens when a request gives none.")
    request_queue_size: int = Field(16, description="Generate requests waiting at most.")
    team_queue_share: float = Field(0.5, description="Share of the queue one team may fill.")
    request_timeout_s: float = Field(60.0, description="A generate request gives up after this.")
    job_visibility_timeout_s: int = Field(3600, description="Redis: redeliver unacked after.")
    job_lease_s: float = Field(60.0, description="A job attempt's lease; renewed by heartbeats.")
    job_redispatch_after_s: float = Field(300.0, description="Re-send a stalled job's stage after.")
    job_sweep_interval_s: float = Field(
        10.0, description="How often workers look for stalled jobs."
    )
    job_max_attempts: int = Field(3, description="Attempts before a job is marked failed.")
    page_size_max: int = Field(200, description="Largest page a list endpoint returns.")

    secret_key: str | None = Field(
        None, description="Keys API keys are hashed with; data_dir/secret.key by default."
    )
    metrics_token: str | None = Field(
        None, description="Bearer token Prometheus scrapes /metrics with; `public` opens it."
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies whose X-Forwarded-Proto/-For are believed (comma list, `*`).",
    )
    request_log_retention_days: int = Field(
        30, ge=1, description="Logged request payloads are erased after this many days."
    )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'formwright.db').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite').resolve()}"

    @property
    def resolved_artifacts_dir(self) -> Path:
        return self.artifacts_dir or self.data_dir / "artifacts"

    @property
    def side_base_models(self) -> list[str]:
        return [m.strip() for m in (self.base_models or "").split(",") if m.strip()]

    @property
    def base_model_name(self) -> str:
        """The model id that /v1/models and chat completions answer to."""
        return Path(self.base_model).name if self.base_model else "SmolLM2-135M-Instruct"

    @property
    def models_cache_dir(self) -> Path:
        return self.data_dir / "models"

    def private_data_dir(self) -> Path:
        """The data dir, readable by this user only, and so are the files created from now on.

        It holds logged payloads, the database and the secret the API keys are hashed with.
        """
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        os.umask(0o077)
        return self.data_dir


@lru_cache
def get_settings() -> Settings:
    return Settings()
