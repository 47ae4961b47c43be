"""Connector settings: their own typed tree, env prefix ``INCIDENTS_CONNECTORS_``.

Kept apart from :mod:`incidents.config.settings` (which the stream worker owns) so that a
connector process carries only its own secrets. Kafka, topic prefix and log
format still come from the main tree; tokens are ``SecretStr`` and never
logged. Field names map one to one to variables: ``vk_token`` is
``INCIDENTS_CONNECTORS_VK_TOKEN``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from incidents.config.env import ConfigError, reject_unknown
from incidents.domain.policy import comma_list

ENV_PREFIX = "INCIDENTS_CONNECTORS_"
REPLY_PLATFORMS = ("vk", "ok", "telegram")


class ConnectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    # ------------------------------------------------------------ common
    registry_file: Path | None = Field(
        None, description="YAML with `sources:` (and searches, portals); see docs/connectors.md"
    )
    state_dir: Path = Field(
        Path("var/connectors"), description="cursor files and the replies sent-store live here"
    )
    web_host: str = Field("127.0.0.1", description="bind address of /healthz /metrics (+webhooks)")
    web_port: int = Field(6070, ge=0, le=65535, description="port of /healthz /metrics (+webhooks)")
    poll_interval_s: float = Field(60.0, gt=0, description="pause between polling rounds")
    batch_size: int = Field(
        100, ge=1, le=10_000, description="mentions per flush; the cursor is saved after each"
    )
    max_pages: int = Field(10, ge=1, description="pages one source may fetch in one round")
    request_timeout_s: float = Field(30.0, gt=0, description="one HTTP request")
    retry_attempts: int = Field(6, ge=1, le=50, description="tries of one request (bounded)")
    retry_initial_s: float = Field(1.0, gt=0, description="first backoff (exponential, jittered)")
    retry_max_s: float = Field(60.0, gt=0, description="longest backoff, also caps Retry-After")
    stale_after_s: float = Field(
        900.0, gt=0, description="/healthz turns 503 when no round succeeded for this long"
    )

    # ---------------------------------------------------------------- VK
    vk_token: SecretStr | None = Field(
        None, description="VK service token (polling) or community token (replies); secret"
    )
    vk_api_url: str = Field("https://api.vk.com/method", description="VK API base URL")
    vk_api_version: str = Field("5.199", description="VK API version `v`")
    vk_requests_per_s: float = Field(
        3.0, gt=0, le=20, description="VK rate: 3/s for user and service tokens, 20/s community"
    )
    vk_search_backfill_s: float = Field(
        3600.0, ge=0, description="first newsfeed.search looks back this far"
    )
    vk_comment_posts: int = Field(
        20, ge=1, le=100, description="latest posts per community whose comments are watched"
    )
    vk_reply_from_group: bool = Field(
        True, description="post VK replies as the community (community token) rather than a user"
    )

    # ---------------------------------------------------------------- OK
    ok_application_key: str | None = Field(None, description="OK application public key")
    ok_application_secret: SecretStr | None = Field(
        None, description="OK application secret key; only used to sign (secret)"
    )
    ok_access_token: SecretStr | None = Field(
        None, description="OK access_token (permanent app token or OAuth); secret"
    )
    ok_api_url: str = Field("https://api.ok.ru/fb.do", description="OK REST endpoint")
    ok_requests_per_s: float = Field(3.0, gt=0, description="self-imposed OK request rate")
    ok_reply_method: str | None = Field(
        None,
        description="OK method that comments a group topic, as agreed with OK; unset = OK "
        "replies are reported `unsupported`",
    )

    # ---------------------------------------------------------- Telegram
    telegram_token: SecretStr | None = Field(None, description="Bot API token from @BotFather")
    telegram_api_url: str = Field("https://api.telegram.org", description="Bot API base URL")
    telegram_mode: Literal["polling", "webhook"] = Field(
        "polling", description="getUpdates long polling, or a webhook the Bot API calls"
    )
    telegram_long_poll_s: int = Field(25, ge=0, le=50, description="getUpdates timeout")
    telegram_webhook_url: str | None = Field(
        None, description="public https URL of this process' /telegram; setWebhook at start"
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="X-Telegram-Bot-Api-Secret-Token expected on webhook calls (secret)"
    )

    # ------------------------------------------------------- portals, RSS
    portal_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description="portal name → API token (JSON in the env; secret)"
    )
    rss_user_agent: str = Field(
        "incidents-connector/1 (+https://github.com/)", description="User-Agent of feed requests"
    )

    # ----------------------------------------------------------- webhook
    webhook_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="bearer tokens accepted by POST /mentions (comma list)"
    )
    webhook_max_bytes: int = Field(1_048_576, ge=1024, description="largest accepted request body")

    # ----------------------------------------------------------- replies
    replies_live: Annotated[list[Literal["vk", "ok", "telegram"]], NoDecode] = Field(
        default_factory=list,
        description="platforms where replies are really posted (comma list); the rest dry-run",
    )
    replies_group: str | None = Field(
        None, description="consumer group of the replies worker (default <app id>-replies)"
    )

    # ------------------------------------------------------------ faults
    fault_exit_after_items: int = Field(
        0, ge=0, description="TESTS ONLY: exit(137) once this many mentions were published"
    )
    fault_exit_before_save: bool = Field(
        False, description="TESTS ONLY: with the above, exit after the flush, before the cursor"
    )

    _lists = field_validator("webhook_tokens", "replies_live", mode="before")(comma_list)

    def is_live(self, platform: str) -> bool:
        return platform in self.replies_live


def env_names() -> set[str]:
    """Every INCIDENTS_CONNECTORS_* variable (for incidents.config.settings.known_env_names)."""
    return {f"{ENV_PREFIX}{name}".upper() for name in ConnectorSettings.model_fields}


def load_connector_settings(**overrides: Any) -> ConnectorSettings:
    """Build from the env (and overrides), every error as one line naming the variable."""
    reject_unknown(os.environ, ENV_PREFIX, env_names())
    try:
        return ConnectorSettings(**overrides)
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"] if not str(p).isdigit()]
        var = ENV_PREFIX + "_".join(loc[:1]).upper() if loc else ENV_PREFIX + "*"
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{var}: {msg}") from None
    except Exception as err:  # pydantic-settings: a dict setting that is not JSON
        raise ConfigError(f"{ENV_PREFIX}*: {str(err).splitlines()[0]}") from None
