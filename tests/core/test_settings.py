"""bot.settings and each channel's section, read together by bot.entry.settings: defaults, `.env`
and the environment, validation, channels, secrets and .env.example."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import bot.settings as settings_module
import handlers.microsoft365.settings
import handlers.slack.settings
import handlers.smtp.settings
import handlers.web.settings
from bot.entry.settings import BotSettings, load_settings
from bot.settings import DeliveryLimits, SettingsError
from handlers.microsoft365.settings import MicrosoftSettings
from handlers.slack.settings import SlackSettings

SETTINGS_MODULES = (
    settings_module,
    handlers.slack.settings,
    handlers.microsoft365.settings,
    handlers.smtp.settings,
    handlers.web.settings,
)

REPO = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = REPO / ".env.example"
VARIABLE_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=")
COMMENTED_ASSIGNMENT = re.compile(r"^#\s*[A-Z][A-Z0-9_]*=")

SLACK_FULL = {
    "SLACK_BOT_TOKEN": "xoxb-bot-token-SECRET-1111",
    "SLACK_SIGNING_SECRET": "signing-SECRET-2222",
    "SLACK_APP_TOKEN": "xapp-app-token-SECRET-3333",
    "SLACK_CHANNEL_ID": "C0123456",
}
MS_FULL = {
    "MS_TENANT_ID": "tenant-1234",
    "MS_CLIENT_ID": "client-5678",
    "MS_CLIENT_SECRET": "client-SECRET-4444",
    "MS_ORGANISER": "baerekraft@ks.no",
}
SMTP_FULL = {
    "SMTP_HOST": "smtp.kommune.no",
    "SMTP_FROM": "Baerekraft@Kommune.no",
    "SMTP_USERNAME": "baerekraft",
    "SMTP_PASSWORD": "smtp-SECRET-7777",
}
BOUNCE_IMAP = {
    "BOUNCE_IMAP_HOST": "imap.kommune.no",
    "BOUNCE_IMAP_USERNAME": "bounces",
    "BOUNCE_IMAP_PASSWORD": "imap-SECRET-8888",
}
SECRET_KEY = "secret-key-SECRET-5555-0123456789"
HEALTH_TOKEN = "health-token-SECRET-6666"
SECRETS = (
    SECRET_KEY,
    HEALTH_TOKEN,
    SLACK_FULL["SLACK_BOT_TOKEN"],
    SLACK_FULL["SLACK_SIGNING_SECRET"],
    SLACK_FULL["SLACK_APP_TOKEN"],
    MS_FULL["MS_CLIENT_SECRET"],
    SMTP_FULL["SMTP_PASSWORD"],
)


def load(env: Mapping[str, str] | None = None, dotenv: Path | None = None) -> BotSettings:
    """Settings from exactly `env` (never the process environment) and, if given, a `.env` file."""
    return load_settings(environ=dict(env or {}), dotenv_path=dotenv)


def problems_of(env: Mapping[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(env)
    return caught.value.problems


def documented_variables() -> list[str]:
    return [
        m.group(1) for line in ENV_EXAMPLE.read_text("utf-8").splitlines() if (m := VARIABLE_LINE.match(line))
    ]


# --- defaults and sources -------------------------------------------------------------------------


def test_defaults() -> None:
    s = load()
    assert s.database_url == "sqlite:///./baerekraft.db"
    assert s.timezone == "Europe/Oslo"
    assert s.tz == ZoneInfo("Europe/Oslo")
    assert s.language == "nb"
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.public_base_url is None
    assert s.log_level == "INFO"
    assert s.limits.mail_rate_per_minute == 30
    assert s.limits.mail_daily_recipients == 10_000
    assert s.limits.mail_max_recipients == 500
    assert s.slack is None
    assert s.microsoft is None
    slack = load(SLACK_FULL).slack
    assert slack is not None
    assert (slack.rate_per_second, slack.workspace_rate_per_minute, slack.sends_in_flight) == (1, 600, 4)


def test_without_secret_key_a_long_temporary_one_is_made_each_time() -> None:
    first, second = load(), load()
    assert first.secret_key_is_temporary
    assert len(first.secret_key) >= 32
    assert first.secret_key != second.secret_key


def test_a_given_secret_key_is_used() -> None:
    s = load({"SECRET_KEY": "exactly-16-chars"})
    assert s.secret_key == "exactly-16-chars"
    assert not s.secret_key_is_temporary


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    dotenv = tmp_path / "bot.env"
    dotenv.write_text(
        "# a comment\n"
        "BOT_TIMEZONE=Europe/London\n"
        "BOT_LANGUAGE=en\n"
        "PORT=9000\n"
        'PUBLIC_BASE_URL="https://bot.example.org/"\n'
        "MAIL_RATE_PER_MINUTE=120\n"
        "DATABASE_URL=postgres://bot:pw@db.example.org:5432/bot\n",
        "utf-8",
    )
    s = load(dotenv=dotenv)
    assert s.timezone == "Europe/London"
    assert s.language == "en"
    assert s.port == 9000
    assert s.public_base_url == "https://bot.example.org"
    assert s.limits.mail_rate_per_minute == 120
    assert s.database_url == "postgresql+psycopg://bot:pw@db.example.org:5432/bot"


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("BOT_LANGUAGE=en\nPORT=9000\nBOT_TIMEZONE=Europe/London\n", "utf-8")
    s = load({"BOT_LANGUAGE": "nb", "BOT_TIMEZONE": "America/New_York"}, dotenv)
    assert s.language == "nb"
    assert s.timezone == "America/New_York"
    assert s.port == 9000  # not in the environment: the file's value stays


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment without any variable the bot reads."""
    for name in documented_variables():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_process_environment_wins_over_dotenv(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("BOT_LANGUAGE=nb\nPORT=9000\n", "utf-8")
    clean_environ.setenv("BOT_LANGUAGE", "en")
    s = load_settings(dotenv_path=dotenv)
    assert s.language == "en"
    assert s.port == 9000


def test_a_missing_dotenv_file_means_defaults(tmp_path: Path) -> None:
    assert load(dotenv=tmp_path / "no-such.env").port == 8000


def test_empty_values_mean_the_default() -> None:
    s = load({"PORT": "", "BOT_LANGUAGE": "  ", "SECRET_KEY": "", "DATABASE_URL": ""})
    assert s.port == 8000
    assert s.language == "nb"
    assert s.secret_key_is_temporary
    assert s.database_url == "sqlite:///./baerekraft.db"


def test_env_example_itself_is_a_valid_configuration() -> None:
    s = load(dotenv=ENV_EXAMPLE)
    assert s.database_url == "sqlite:///./baerekraft.db"
    assert (s.timezone, s.language, s.port) == ("Europe/Oslo", "nb", 8000)
    assert s.slack is None
    assert s.microsoft is None


# --- malformed values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BOT_TIMEZONE", "Europe/Osloo"),
        ("BOT_TIMEZONE", "Mars/Olympus_Mons"),
        ("BOT_TIMEZONE", "../../etc/passwd"),
        ("PUBLIC_BASE_URL", "bot.example.org"),
        ("PUBLIC_BASE_URL", "ftp://bot.example.org"),
        ("PUBLIC_BASE_URL", "https://"),
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PORT", "-1"),
        ("MAIL_RATE_PER_MINUTE", "0"),
        ("MAIL_RATE_PER_MINUTE", "-1"),
        ("MAIL_RATE_PER_MINUTE", "x"),
        ("MAIL_RATE_PER_MINUTE", "1.5"),
        ("MAIL_DAILY_RECIPIENTS", "0"),
        ("MAIL_MAX_RECIPIENTS", "many"),
        ("MAIL_BATCH", "yes"),
        ("SLACK_RATE_PER_SECOND", "0"),
        ("SLACK_RATE_PER_SECOND", "nan"),
        ("SLACK_WORKSPACE_RATE_PER_MINUTE", "0"),
        ("SLACK_WORKSPACE_RATE_PER_MINUTE", "-600"),
        ("SLACK_WORKSPACE_RATE_PER_MINUTE", "many"),
        ("SLACK_SENDS_IN_FLIGHT", "0"),
        ("SLACK_SENDS_IN_FLIGHT", "17"),
        ("SLACK_SENDS_IN_FLIGHT", "2.5"),
        ("BOT_LANGUAGE", "de"),
        ("DATABASE_URL", "mysql://bot@db.example.org/bot"),
        ("DATABASE_URL", "baerekraft.db"),
        ("GRAPH_API_URL", "http://graph.microsoft.com/v1.0"),
        ("MS_AUTHORITY_HOST", "http://login.microsoftonline.com"),
        ("SLACK_API_URL", "ftp://slack.com/api/"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token"),
        ("SECRET_KEY", "too-short"),
        ("HEALTH_TOKEN", "too-short"),
        ("METRICS_TOKEN", "too-short"),
        ("LOG_LEVEL", "chatty"),
    ],
)
def test_a_malformed_value_stops_with_an_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load({name: value})
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{name}:")
    assert name in str(caught.value)


def test_a_malformed_value_in_dotenv_is_reported_too(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=eighty\n", "utf-8")
    with pytest.raises(SettingsError, match="PORT"):
        load(dotenv=dotenv)


@pytest.mark.parametrize(
    ("graph", "teams"),
    [
        (None, "https://teams.microsoft.com"),
        ("https://graph.microsoft.us/v1.0", "https://gov.teams.microsoft.us"),
        ("https://dod-graph.microsoft.us/v1.0", "https://dod.teams.microsoft.us"),
        ("https://microsoftgraph.chinacloudapi.cn/v1.0", "https://teams.microsoftonline.cn"),
    ],
)
def test_teams_web_address_follows_the_national_cloud_of_graph(graph: str | None, teams: str) -> None:
    env = {**MS_FULL, "SECRET_KEY": SECRET_KEY, **({"GRAPH_API_URL": graph} if graph else {})}
    microsoft = load(env).microsoft
    assert microsoft is not None and microsoft.teams_web_url == teams
    overridden = load({**env, "TEAMS_WEB_URL": "https://teams.example.org/"}).microsoft
    assert overridden is not None and overridden.teams_web_url == "https://teams.example.org"


def test_graph_url_must_be_https_even_with_full_credentials() -> None:
    problems = problems_of({**MS_FULL, "GRAPH_API_URL": "http://graph.example.org/v1.0"})
    assert [p.split(":")[0] for p in problems] == ["GRAPH_API_URL"]
    assert "https" in problems[0]


def test_several_problems_are_reported_together() -> None:
    problems = problems_of(
        {
            "PORT": "abc",
            "BOT_LANGUAGE": "de",
            "BOT_TIMEZONE": "Nowhere/Special",
            "SECRET_KEY": "short",
            "MAIL_RATE_PER_MINUTE": "0",
            "SLACK_APP_TOKEN": "xoxb-wrong",
        }
    )
    named = sorted(p.split(":")[0] for p in problems)
    assert named == sorted(
        ["PORT", "BOT_LANGUAGE", "BOT_TIMEZONE", "SECRET_KEY", "MAIL_RATE_PER_MINUTE", "SLACK_APP_TOKEN"]
    )


def test_problems_never_echo_a_secret() -> None:
    with pytest.raises(SettingsError) as caught:
        load({"SECRET_KEY": "short-SECRET", "SLACK_APP_TOKEN": "xoxb-SECRET-token", "PORT": "x"})
    message = str(caught.value)
    assert "SECRET_KEY" in message
    assert "SLACK_APP_TOKEN" in message
    assert "short-SECRET" not in message
    assert "xoxb-SECRET-token" not in message


# --- channels ---------------------------------------------------------------------------------------


def channel_lines(s: BotSettings, prefix: str) -> list[str]:
    return [line for line in s.disabled_channels if line.startswith(prefix)]


def test_without_credentials_both_channels_are_off_with_a_reason_each() -> None:
    s = load()
    assert len(channel_lines(s, "Slack")) == 1
    assert len(channel_lines(s, "Microsoft")) == 1
    assert len(channel_lines(s, "SMTP")) == 1
    assert len(s.disabled_channels) == 3


def test_slack_with_only_a_token_is_off_naming_the_signing_secret() -> None:
    s = load({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert s.slack is None
    [line] = channel_lines(s, "Slack")
    assert "SLACK_SIGNING_SECRET" in line
    assert "SLACK_BOT_TOKEN" not in line


def test_slack_with_only_a_signing_secret_is_off_naming_the_token() -> None:
    s = load({"SLACK_SIGNING_SECRET": "abc"})
    assert s.slack is None
    [line] = channel_lines(s, "Slack")
    assert "SLACK_BOT_TOKEN" in line
    assert "SLACK_SIGNING_SECRET" not in line


@pytest.mark.parametrize("missing", sorted(MS_FULL))
def test_microsoft_with_three_of_four_is_off_naming_the_fourth(missing: str) -> None:
    env = {k: v for k, v in MS_FULL.items() if k != missing}
    s = load(env)
    assert s.microsoft is None
    [line] = channel_lines(s, "Microsoft")
    assert missing in line
    assert all(present not in line for present in env)


def test_full_slack_credentials_give_slack_settings() -> None:
    s = load({**SLACK_FULL, "SLACK_API_URL": "https://slack.test/api"})
    assert s.slack == SlackSettings(
        bot_token=SLACK_FULL["SLACK_BOT_TOKEN"],
        signing_secret=SLACK_FULL["SLACK_SIGNING_SECRET"],
        app_token=SLACK_FULL["SLACK_APP_TOKEN"],
        channel_id="C0123456",
        api_url="https://slack.test/api/",
    )
    assert s.slack.socket_mode
    assert channel_lines(s, "Slack") == []


def test_slack_without_app_token_uses_http_mode() -> None:
    s = load({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "abc"})
    assert s.slack is not None
    assert not s.slack.socket_mode
    assert s.slack.api_url == "https://slack.com/api/"


def test_full_microsoft_credentials_give_microsoft_settings() -> None:
    s = load(
        {
            **MS_FULL,
            "TEAMS_TEAM_ID": "team-1",
            "TEAMS_CHANNEL_ID": "19:abc@thread.tacv2",
            "GRAPH_API_URL": "https://graph.test/v1.0/",
        }
    )
    assert s.microsoft == MicrosoftSettings(
        tenant_id="tenant-1234",
        client_id="client-5678",
        client_secret=MS_FULL["MS_CLIENT_SECRET"],
        organiser="baerekraft@ks.no",
        team_id="team-1",
        channel_id="19:abc@thread.tacv2",
        authority_host="https://login.microsoftonline.com",
        graph_api_url="https://graph.test/v1.0",
    )
    assert channel_lines(s, "Microsoft") == []
    assert len(s.disabled_channels) == 2  # Slack and SMTP are still off


def test_repr_never_shows_a_secret() -> None:
    s = load({**SLACK_FULL, **MS_FULL, "SECRET_KEY": SECRET_KEY, "HEALTH_TOKEN": HEALTH_TOKEN})
    assert s.health_token == HEALTH_TOKEN
    assert s.slack is not None
    assert s.microsoft is not None
    for text in (repr(s), str(s), repr(s.slack), repr(s.microsoft)):
        for secret in SECRETS:
            assert secret not in text
    # The repr is a real one: harmless values are shown.
    assert "tenant-1234" in repr(s)
    assert "C0123456" in repr(s)


def test_repr_of_default_settings_hides_the_temporary_key() -> None:
    s = load()
    assert s.secret_key not in repr(s)


# --- database URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://bot:pw@db:5432/bot", "postgresql+psycopg://bot:pw@db:5432/bot"),
        ("postgresql://bot:pw@db:5432/bot", "postgresql+psycopg://bot:pw@db:5432/bot"),
        ("postgresql+psycopg://bot@db/bot", "postgresql+psycopg://bot@db/bot"),
        ("sqlite:////var/lib/bot/bot.db", "sqlite:////var/lib/bot/bot.db"),
    ],
)
def test_database_url_is_normalised(given: str, expected: str) -> None:
    assert load({"DATABASE_URL": given}).database_url == expected


def test_delivery_limits_are_read() -> None:
    s = load(
        {
            **SLACK_FULL,
            "MAIL_RATE_PER_MINUTE": "60",
            "MAIL_DAILY_RECIPIENTS": "20000",
            "MAIL_MAX_RECIPIENTS": "100",
            "MAIL_BATCH": "BCC",
            "SLACK_RATE_PER_SECOND": "2.5",
            "SLACK_WORKSPACE_RATE_PER_MINUTE": "1200",
            "SLACK_SENDS_IN_FLIGHT": "8",
        }
    )
    assert s.limits == DeliveryLimits(60, 20_000, 100, mail_batch="bcc")
    assert load(SLACK_FULL).limits.mail_batch == "off"
    assert s.slack is not None
    assert (s.slack.rate_per_second, s.slack.workspace_rate_per_minute, s.slack.sends_in_flight) == (
        2.5,
        1200,
        8,
    )


# --- .env.example -----------------------------------------------------------------------------------

# All-caps string literals in the settings modules that are values, not variable names.
NOT_VARIABLES = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "INBOX"})  # INBOX: an IMAP folder


def names_in_settings_source() -> set[str]:
    """Every all-caps string literal in the settings modules: a new variable shows up here."""
    source = "\n".join(inspect.getsource(module) for module in SETTINGS_MODULES)
    return set(re.findall(r"""["']([A-Z][A-Z0-9_]+)["']""", source)) - NOT_VARIABLES


def test_env_example_documents_every_variable_in_the_settings_source() -> None:
    found = names_in_settings_source()
    # The scan works: it sees variables read directly, through url/parsed and through name tuples.
    assert {"DATABASE_URL", "PORT", "PUBLIC_BASE_URL", "MS_TENANT_ID", "SLACK_APP_TOKEN"} <= found
    undocumented = found - set(documented_variables())
    assert not undocumented, (
        f"not in .env.example: {sorted(undocumented)} (a value, not a variable? add it to NOT_VARIABLES)"
    )


class RecordingEnv(dict[str, str]):
    """The merged environment the reader sees, noting every name looked up in it."""

    def __init__(self, data: Mapping[str, str], read: set[str]) -> None:
        super().__init__(data)
        self.read = read

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)


def test_env_example_documents_every_variable_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the loader and record each name it looks up, with and without full credentials."""
    read: set[str] = set()
    original = settings_module.Reader.__init__

    def recording(self: settings_module.Reader, env: Mapping[str, str]) -> None:
        original(self, RecordingEnv(env, read))

    monkeypatch.setattr(settings_module.Reader, "__init__", recording)
    load()
    load({**SLACK_FULL, **MS_FULL, "SECRET_KEY": SECRET_KEY})
    load({**SMTP_FULL, "SECRET_KEY": SECRET_KEY})
    assert {"SECRET_KEY", "TEAMS_TEAM_ID", "GRAPH_API_URL", "MAIL_MAX_RECIPIENTS"} <= read
    undocumented = read - set(documented_variables())
    assert not undocumented, f"read by load_settings but not in .env.example: {sorted(undocumented)}"


def test_env_example_has_no_duplicate_variables() -> None:
    names = documented_variables()
    assert len(names) == len(set(names))


def test_every_variable_in_env_example_has_a_comment_above() -> None:
    """The line above each variable is a comment describing it (a commented-out example assignment
    does not count)."""
    lines = ENV_EXAMPLE.read_text("utf-8").splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        match = VARIABLE_LINE.match(line)
        if not match:
            continue
        name = match.group(1)
        j = i - 1
        while j >= 0 and COMMENTED_ASSIGNMENT.match(lines[j]):
            j -= 1
        above = lines[j].strip() if j >= 0 else ""
        if not above.startswith("#") or not above.lstrip("#").strip():
            undocumented.append(name)
    assert documented_variables(), ".env.example lists no variables"
    assert not undocumented, f"variables in .env.example without a comment line above: {undocumented}"


def test_database_password_stays_out_of_repr_and_safe_url() -> None:
    settings = load_settings(
        {"DATABASE_URL": "postgresql://bot:s3cr3t-pw@db.example.org/baerekraft"}, dotenv_path=None
    )
    assert "s3cr3t-pw" not in repr(settings)
    assert "s3cr3t-pw" not in settings.database_url_safe
    assert settings.database_url_safe.startswith("postgresql+psycopg://bot:***@db.example.org")
    assert "s3cr3t-pw" in settings.database_url  # still usable to connect


# --- SMTP ---------------------------------------------------------------------------------------


def test_smtp_defaults_to_starttls_on_the_submission_port() -> None:
    s = load(SMTP_FULL)
    assert s.smtp is not None and s.mail_configured and not s.chat_configured
    assert (s.smtp.host, s.smtp.port, s.smtp.starttls, s.smtp.tls) == ("smtp.kommune.no", 587, True, False)
    assert s.smtp.sender == "baerekraft@kommune.no"  # one mailbox, as addresses are kept
    assert (s.smtp.username, s.smtp.password) == ("baerekraft", "smtp-SECRET-7777")
    assert "smtp-SECRET-7777" not in repr(s)


def test_smtp_with_tls_from_the_start_uses_port_465() -> None:
    s = load({**SMTP_FULL, "SMTP_TLS": "true"})
    assert s.smtp is not None and (s.smtp.port, s.smtp.tls, s.smtp.starttls) == (465, True, False)


def test_a_local_relay_without_login_may_go_unencrypted() -> None:
    s = load({"SMTP_HOST": "localhost", "SMTP_PORT": "25", "SMTP_STARTTLS": "false", "SMTP_FROM": "a@b.no"})
    assert s.smtp is not None and (s.smtp.port, s.smtp.starttls, s.smtp.username) == (25, False, None)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SMTP_HOST": "smtp.kommune.no"}, "SMTP_FROM"),
        ({**SMTP_FULL, "SMTP_FROM": "a@b.no, c@d.no"}, "SMTP_FROM"),
        ({**SMTP_FULL, "SMTP_PASSWORD": ""}, "SMTP_USERNAME and SMTP_PASSWORD"),
        ({**SMTP_FULL, "SMTP_STARTTLS": "false"}, "SMTP_USERNAME: a password is sent only over TLS"),
        ({**SMTP_FULL, "SMTP_TLS": "true", "SMTP_STARTTLS": "true"}, "SMTP_TLS and SMTP_STARTTLS"),
        ({**SMTP_FULL, "SMTP_PORT": "99999"}, "SMTP_PORT"),
        ({**SMTP_FULL, "SMTP_TIMEOUT": "-1"}, "SMTP_TIMEOUT"),
        ({**SMTP_FULL, "BOUNCE_ADDRESS": "bounces"}, "BOUNCE_ADDRESS"),
        (
            {**SMTP_FULL, "BOUNCE_IMAP_HOST": "imap.kommune.no"},
            "BOUNCE_IMAP_USERNAME and BOUNCE_IMAP_PASSWORD",
        ),
        ({**SMTP_FULL, **BOUNCE_IMAP, "BOUNCE_IMAP_TLS": "maybe"}, "BOUNCE_IMAP_TLS"),
    ],
)
def test_a_bad_smtp_setting_stops_start_up_naming_it(env: dict[str, str], named: str) -> None:
    found = problems_of(env)
    assert any(p.startswith(named) for p in found), found
    assert not any("smtp-SECRET-7777" in p for p in found)


def test_bounces_go_to_bounce_address_and_are_read_over_imap_with_tls() -> None:
    plain = load(SMTP_FULL)
    assert plain.smtp is not None and (plain.smtp.bounce_address, plain.smtp.bounce_imap) == (None, None)
    s = load({**SMTP_FULL, "BOUNCE_ADDRESS": "Bounces@Kommune.no", **BOUNCE_IMAP})
    assert s.smtp is not None and s.smtp.bounce_address == "bounces@kommune.no"
    imap = s.smtp.bounce_imap
    assert imap is not None and (imap.host, imap.port, imap.tls, imap.folder) == (
        "imap.kommune.no",
        993,
        True,
        "INBOX",
    )
    assert "imap-SECRET-8888" not in repr(s)
    starttls = load({**SMTP_FULL, **BOUNCE_IMAP, "BOUNCE_IMAP_TLS": "false", "BOUNCE_IMAP_FOLDER": "Retur"})
    assert starttls.smtp is not None and starttls.smtp.bounce_imap is not None
    assert (starttls.smtp.bounce_imap.port, starttls.smtp.bounce_imap.folder) == (143, "Retur")


def test_smtp_is_off_when_microsoft_365_carries_the_mail() -> None:
    s = load({**SMTP_FULL, **MS_FULL})
    assert s.smtp is None and s.microsoft is not None
    assert channel_lines(s, "SMTP") == ["SMTP is off: Microsoft 365 is configured and carries the mail"]
