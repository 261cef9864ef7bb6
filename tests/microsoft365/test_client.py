"""handlers.microsoft365.client and batch against the fake Graph: paging, throttling with and without
Retry-After, 5xx and timeouts (retried only when safe), permissions named, $batch with inner 429s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.clock import ManualClock
from bot.mail import MailFailed, MailMessage
from handlers.microsoft365.batch import BatchRequest, batch
from handlers.microsoft365.client import Auth
from handlers.microsoft365.errors import GraphAuthError, GraphError, GraphThrottled, GraphUnavailable
from tests.conftest import NOW
from tests.microsoft365.support import JOHN, KARI, OLA, Tenant365, tenant365

USERS = "/users/aad-kari"


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        yield tenant


def get_user(ms: Tenant365, *, wait_when_throttled: bool = True) -> dict[str, object]:
    return ms.m365.client.call(
        "GET", USERS, auth=Auth.APP, permission="User.Read.All", wait_when_throttled=wait_when_throttled
    ).object()


def test_throttling_waits_out_retry_after_on_the_clock(ms: Tenant365) -> None:
    ms.graph.fail("GET", USERS, status=429, retry_after=7, times=2)
    before = ms.clock.now()
    assert get_user(ms)["mail"] == "kari@kommune.no"
    assert (ms.clock.now() - before).total_seconds() == 14  # two waits of Retry-After, no real sleep
    assert ms.graph.count("GET", USERS, successful_only=False) == 3


def test_throttling_without_retry_after_backs_off_anyway(ms: Tenant365) -> None:
    ms.graph.fail("GET", USERS, status=503, retry_after=None, times=2)
    before = ms.clock.now()
    assert get_user(ms)["id"] == KARI
    assert (ms.clock.now() - before).total_seconds() > 1


def test_throttling_can_be_handed_back_to_the_caller(ms: Tenant365) -> None:
    ms.graph.fail("GET", USERS, status=429, retry_after=30)
    with pytest.raises(GraphThrottled) as caught:
        get_user(ms, wait_when_throttled=False)
    assert caught.value.retry_after == 30


def test_server_errors_and_timeouts_are_retried_for_safe_requests(ms: Tenant365) -> None:
    ms.graph.fail("GET", USERS, status=502, retry_after=None)
    ms.graph.fail("GET", USERS, status=200, retry_after=None, delay=5.5, after=True)  # a lost answer
    assert get_user(ms)["id"] == KARI
    assert ms.graph.count("GET", USERS, successful_only=False) == 3


def test_an_unsafe_request_that_may_have_worked_is_reported_in_doubt(ms: Tenant365) -> None:
    ms.graph.fail("POST", "/sendMail", status=504, retry_after=None, after=True)
    with pytest.raises(GraphUnavailable) as caught:
        ms.m365.mail.send_mime(b"From: x\r\n\r\nhi", retry=False)
    assert caught.value.in_doubt
    assert ms.graph.count("POST", "/sendMail", successful_only=False) == 1  # not repeated


def test_a_missing_permission_is_named(ms: Tenant365) -> None:
    ms.idp.app_permissions.discard("Mail.Send")
    with pytest.raises(MailFailed, match=r"403 .*application permission Mail\.Send") as caught:
        ms.m365.mailer().send(MailMessage("kari@kommune.no", "Hei", "Hei"))
    assert isinstance(caught.value.__cause__, GraphAuthError)


def test_app_only_tokens_cannot_post_to_a_channel(ms: Tenant365) -> None:
    with pytest.raises(GraphAuthError, match="403"):
        ms.m365.client.call(
            "POST",
            f"{ms.m365.teams.channel_path}/messages",
            auth=Auth.APP,
            permission="ChannelMessage.Send",
            json={"body": {"content": "x"}},
        )


def test_a_refused_token_is_renewed_once(ms: Tenant365) -> None:
    get_user(ms)
    ms.idp.expire_access_tokens()  # Graph refuses the cached token: one 401, then a fresh one
    assert get_user(ms)["id"] == KARI
    assert ms.idp.grants["client_credentials"] == 2


def test_paging_follows_next_links(ms: Tenant365) -> None:
    ms.login()
    for n in range(5):
        ms.in_channel(KARI, f"melding {n}")
    path = f"{ms.m365.teams.channel_path}/messages/delta"
    pages = list(ms.m365.client.pages(path, auth=Auth.USER, permission="ChannelMessage.Read.All"))
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert "@odata.deltaLink" in pages[-1]


def test_links_outside_graph_are_refused(ms: Tenant365) -> None:
    with pytest.raises(GraphError, match="outside GRAPH_API_URL"):
        ms.m365.client.call("GET", "https://evil.example/v1.0/me", auth=Auth.APP, permission="x")


def test_batch_retries_only_the_inner_requests_that_were_throttled(ms: Tenant365) -> None:
    ms.graph.fail("GET", "/users/aad-john", status=429, retry_after=3, inner_only=True, times=2)
    requests = [BatchRequest(user, "GET", f"/users/{user}") for user in (KARI, JOHN, OLA, "aad-nobody")]
    results = batch(ms.m365.client, requests, auth=Auth.APP, permission="User.Read.All")
    assert {k: r.status for k, r in results.items()} == {KARI: 200, JOHN: 200, OLA: 200, "aad-nobody": 404}
    assert ms.graph.count("POST", r"/\$batch") == 3
    assert ms.graph.count("GET", f"/users/{KARI}") == 1  # not fetched again
    assert ms.graph.count("GET", f"/users/{JOHN}", successful_only=False) == 3


def test_a_big_batch_is_split_into_twenties(ms: Tenant365) -> None:
    requests = [BatchRequest(str(n), "GET", f"/users/{KARI}") for n in range(45)]
    results = batch(ms.m365.client, requests, auth=Auth.APP, permission="User.Read.All")
    assert len(results) == 45 and all(r.ok for r in results.values())
    assert ms.graph.count("POST", r"/\$batch") == 3
