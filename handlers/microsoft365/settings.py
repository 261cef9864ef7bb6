"""The Microsoft 365 channel's settings: the Entra app, the organiser mailbox, the Teams channel and
how often it looks at Teams and the calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.settings import Reader, positive_float

TEAMS_WEB = "https://teams.microsoft.com"
# Teams' web address in each Microsoft cloud, by Graph's host there (national cloud deployments).
TEAMS_BY_GRAPH_HOST = {
    "graph.microsoft.com": TEAMS_WEB,
    "graph.microsoft.us": "https://gov.teams.microsoft.us",  # US Government L4 (GCC High)
    "dod-graph.microsoft.us": "https://dod.teams.microsoft.us",  # US Government L5 (DoD)
    "microsoftgraph.chinacloudapi.cn": "https://teams.microsoftonline.cn",  # China (21Vianet)
}


def teams_web_for(graph_api_url: str) -> str:
    """Teams' web address in the cloud GRAPH_API_URL belongs to (the global one otherwise)."""
    return TEAMS_BY_GRAPH_HOST.get((urlsplit(graph_api_url).hostname or "").lower(), TEAMS_WEB)


@dataclass(frozen=True)
class MicrosoftSettings:
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    organiser: str
    team_id: str | None = None
    channel_id: str | None = None
    authority_host: str = "https://login.microsoftonline.com"
    graph_api_url: str = "https://graph.microsoft.com/v1.0"
    # Teams' web address in that cloud: join links and the activity feed's links point there.
    teams_web_url: str = TEAMS_WEB
    # Seconds between looks at the Teams channel and the 1:1 chats (delta query), and at the calendar.
    poll_interval: float = 60.0
    calendar_sync_interval: float = 60.0
    # A channel message starting with this (or mentioning the service account) is a command.
    command_prefix: str = "!baerekraft"
    # Seconds a Graph or sign-in request may take before it counts as failed (and is retried).
    timeout: float = 30.0


def microsoft_settings(r: Reader) -> tuple[MicrosoftSettings | None, str | None]:
    """The section from MS_*, TEAMS_* and GRAPH_*; None and the reason when Microsoft 365 is off."""
    names = ("MS_TENANT_ID", "MS_CLIENT_ID", "MS_CLIENT_SECRET", "MS_ORGANISER")
    values = {n: r.text(n) for n in names}
    authority = r.url("MS_AUTHORITY_HOST", "https://login.microsoftonline.com", https_only=True)
    graph = r.url("GRAPH_API_URL", "https://graph.microsoft.com/v1.0", https_only=True)
    teams_web = r.url("TEAMS_WEB_URL", None, https_only=True)
    missing = [n for n, v in values.items() if v is None]
    if missing:
        return None, f"Microsoft 365 is off: {', '.join(missing)} not set"
    return (
        MicrosoftSettings(
            tenant_id=values["MS_TENANT_ID"] or "",
            client_id=values["MS_CLIENT_ID"] or "",
            client_secret=values["MS_CLIENT_SECRET"] or "",
            organiser=values["MS_ORGANISER"] or "",
            team_id=r.text("TEAMS_TEAM_ID"),
            channel_id=r.text("TEAMS_CHANNEL_ID"),
            authority_host=(authority or "").rstrip("/"),
            graph_api_url=(graph or "").rstrip("/"),
            teams_web_url=(teams_web or teams_web_for(graph or "")).rstrip("/"),
            poll_interval=r.parsed("TEAMS_POLL_INTERVAL", 60.0, positive_float, "a positive number"),
            calendar_sync_interval=r.parsed(
                "CALENDAR_SYNC_INTERVAL", 60.0, positive_float, "a positive number"
            ),
            command_prefix=r.text("TEAMS_COMMAND_PREFIX", "!baerekraft") or "!baerekraft",
            timeout=r.parsed("GRAPH_TIMEOUT", 30.0, positive_float, "a positive number of seconds"),
        ),
        None,
    )
