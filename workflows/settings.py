"""Settings from the environment (and `.env`), validated at start (README lists them).

Nothing here imports Slack: workflows and the CLI read settings too.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_CRON_FIELD = re.compile(r"^[\d\*/,\-A-Za-z?LW#]+$")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and says what is expected."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field("sqlite:///usagebot.db", description="any SQLAlchemy URL")
    slack_bot_token: SecretStr | None = Field(None, description="a bot token starting with xoxb-")
    slack_signing_secret: SecretStr | None = Field(None, description="the Slack app's signing secret")
    slack_app_token: SecretStr | None = Field(None, description="an app-level token starting with xapp-")
    slack_api_url: str = Field("https://slack.com/api/", description="an http(s) URL")
    product_analytics_channel: str | None = Field(None, description="a Slack channel id such as C0123ABCD")
    cs_ops_admins: str = Field("", description="comma-separated Slack user ids")
    cs_managers: str = Field(
        "", description="managers' teams for App Home: manager_email:tam_email,tam_email;manager2_email:…"
    )
    gitlab_url: str = Field("https://gitlab.com", description="an http(s) URL")
    gitlab_token: SecretStr | None = Field(None, description="a GitLab access token")
    metric_request_project: str = Field("gitlab-org/product-analytics", description="a GitLab project path")
    product_analytics_pm: str | None = Field(None, description="a GitLab username")
    data_quality_project: str = Field("gitlab-data/analytics", description="a GitLab project path")
    data_quality_epic: str = Field("gitlab-data&216", description="an epic reference such as group&123")
    digest_cron: str | None = Field(None, description="a 5-field cron expression")
    # A URL source may hold a password: a secret, never printed (only its password-less form is shown or stored).
    sync_source: SecretStr | None = Field(
        None, description="a folder of CSV files or a SQLAlchemy URL the clock syncs from (as `usagebot sync` takes)"
    )
    sync_schema: str | None = Field(None, description="the schema holding the tables of a SYNC_SOURCE URL")
    sync_cron: str | None = Field(None, description="a 5-field cron expression (default: weekly, Monday 06:00)")
    timezone: str = Field("UTC", description="an IANA time zone such as Europe/Berlin")
    scoring_rules: str = Field("gitlab-current", description="a rule set name or a path to a rules file")
    adoption_rules: str = Field("gitlab", description="an adoption rule set name or a path to an adoption rules file")
    metrics_dictionary_path: str | None = Field(
        None, description="a folder of Metrics Dictionary definitions re-imported weekly by the scheduler"
    )

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value() and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("expected a bot token starting with xoxb-")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value() and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("expected an app-level token starting with xapp-")
        return v

    @field_validator("slack_api_url", "gitlab_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("expected an http(s) URL")
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _api_base(cls, v: str) -> str:
        # slack_sdk appends the method name to the base URL: ".../api" must become ".../api/".
        return v if v.endswith("/") else v + "/"

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(v)
        except ArgumentError as exc:
            raise ValueError("expected a SQLAlchemy URL such as sqlite:///usagebot.db") from exc
        return v

    @field_validator("digest_cron", "sync_cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        fields = v.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError("expected a 5-field cron expression such as '0 9 1 * *'")
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(v)
        except ValueError as exc:
            raise ValueError(f"expected a 5-field cron expression ({exc})") from exc
        return v

    @field_validator("cs_managers")
    @classmethod
    def _managers(cls, v: str) -> str:
        from workflows.managers import ManagersError, parse_managers

        try:
            parse_managers(v)
        except ManagersError as exc:
            raise ValueError(str(exc)) from exc
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as Europe/Berlin") from exc
        return v

    @property
    def admin_ids(self) -> frozenset[str]:
        return frozenset(x.strip() for x in self.cs_ops_admins.split(",") if x.strip())

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None

    def require(self, *names: str) -> None:
        """Fail with one clear message naming every setting a command needs but lacks."""
        missing = [n.upper() for n in names if not getattr(self, n)]
        if missing:
            lines = [f"{n}: missing; expected {type(self).model_fields[n.lower()].description}" for n in missing]
            raise SettingsError("Settings problem:\n  " + "\n  ".join(lines))


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        name = str(err["loc"][0]).upper() if err["loc"] else "?"
        field = Settings.model_fields.get(name.lower())
        expected = field.description if field is not None else ""
        msg = err["msg"].removeprefix("Value error, ")
        # Never echo the offending value: it may be a secret.
        hint = "" if msg.startswith("expected") or not expected else f" (expected {expected})"
        lines.append(f"{name}: {msg}{hint}")
    return "Settings problem:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
