"""A series' people in the dashboard: subscribers searched, added, removed, imported from an uploaded
CSV (the Norwegian office's) and exported for Excel; organisers given and taken away; the audit log
paged newest first; and none of it for a series the organiser does not run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import Subscribe, Unsubscribe
from bot.entry.settings import BotSettings
from bot.models import AuditEvent
from bot.services.context import Ctx
from bot.services.series import create_series
from tests.conftest import ORGANISER, person
from tests.web.dashboard_support import KARI, admin_csrf, admin_post, make_organiser, sign_in
from tests.web.support import SLUG, Web, is_active, open_web, person_by_email

SUBSCRIBERS = f"/admin/s/{SLUG}/subscribers"


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        make_organiser(made)
        sign_in(made)
        yield made


def test_search_add_and_remove_subscribers(site: Web) -> None:
    site.app.dispatcher.execute(person("ola@kommune.no", name="Ola Nordmann"), Subscribe(series=SLUG))
    site.app.dispatcher.execute(person("per@kommune.no"), Subscribe(series=SLUG))
    found = site.client.get(SUBSCRIBERS, params={"q": "NORDMANN"})
    assert "ola@kommune.no" in found.text and "per@kommune.no" not in found.text
    assert "per@kommune.no" not in site.client.get(SUBSCRIBERS, params={"q": "%"}).text, "% is no wildcard"

    added = admin_post(site, SUBSCRIBERS, {"email": "Anne@Kommune.no", "name": "Anne"}, form_page=SUBSCRIBERS)
    assert added.status_code == 200 and "Meldt på: 1" in added.text
    assert is_active(site.app, "anne@kommune.no")
    removed = admin_post(site, f"{SUBSCRIBERS}/remove", {"email": "ola@kommune.no"}, form_page=SUBSCRIBERS)
    assert removed.status_code == 303
    assert not is_active(site.app, "ola@kommune.no")
    kari = person_by_email(site.app, KARI)
    assert kari is not None
    with site.app.db.read() as s:
        by_kari = s.execute(
            select(AuditEvent.action, AuditEvent.channel).where(AuditEvent.actor_person_id == kari.id)
        ).all()
    assert ("subscription.created", "import") in by_kari  # one row of an import, as the CLI's
    assert ("subscription.ended", "dashboard") in by_kari


def test_an_address_that_left_is_not_subscribed_again_by_hand(site: Web) -> None:
    site.app.dispatcher.execute(person("ola@kommune.no"), Subscribe(series=SLUG))
    site.app.dispatcher.execute(person("ola@kommune.no"), Unsubscribe(series=SLUG))
    answer = admin_post(site, SUBSCRIBERS, {"email": "ola@kommune.no"}, form_page=SUBSCRIBERS)
    assert "Hoppet over fordi de har meldt seg av" in answer.text
    assert not is_active(site.app, "ola@kommune.no")


def test_a_norwegian_csv_upload_is_imported_and_the_export_opens_in_excel(site: Web) -> None:
    csv = "E-post;Navn;Språk\r\nkari.n@kommune.no;Kari Nordmann;nynorsk\r\nKARI.N@kommune.no;Kari igjen;\r\n"
    token = admin_csrf(site, SUBSCRIBERS)
    answer = site.client.post(
        f"{SUBSCRIBERS}/import",
        data={"csrf": token},
        files={"file": ("liste.csv", csv.encode("cp1252"), "text/csv")},
        follow_redirects=False,
    )
    assert answer.status_code == 200, answer.text[:500]
    assert (
        "Meldt på: 1" in answer.text and "Samme adresse som en tidligere rad (linjenummer): 3" in answer.text
    )
    assert is_active(site.app, "kari.n@kommune.no")

    bad = site.client.post(
        f"{SUBSCRIBERS}/import",
        data={"csrf": token},
        files={"file": ("liste.csv", b"email;name;language\nikke-en-adresse;Ola;\n", "text/csv")},
    )
    assert bad.status_code == 422 and "Ingen ble meldt på" in bad.text
    unreadable = site.client.post(
        f"{SUBSCRIBERS}/import", data={"csrf": token}, files={"file": ("x.csv", b"\x00\x01", "text/csv")}
    )
    assert unreadable.status_code == 422 and "kunne ikke leses som CSV" in unreadable.text

    exported = site.client.get(f"{SUBSCRIBERS}.csv")
    assert exported.status_code == 200
    assert exported.content.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads UTF-8"
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("email;name;language")
    assert any(line.startswith("kari.n@kommune.no;Kari Nordmann;nn") for line in lines)
    with site.app.db.read() as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "subscribers.exported")).one()


def test_organisers_are_given_and_taken_away(site: Web) -> None:
    path = f"/admin/s/{SLUG}/organisers"
    page = site.client.get(path)
    assert KARI in page.text
    given = admin_post(site, path, {"change": "give", "identity": "ola@kommune.no"}, form_page=path)
    assert given.status_code == 303
    assert "ola@kommune.no" in site.client.get(path).text
    bad = admin_post(site, path, {"change": "give", "identity": "ikke en adresse"}, form_page=path)
    assert bad.status_code == 422
    taken = admin_post(site, path, {"change": "take", "identity": "ola@kommune.no"}, form_page=path)
    assert taken.status_code == 303
    assert "ola@kommune.no" not in site.client.get(path).text


def test_the_audit_log_is_paged_newest_first(site: Web) -> None:
    for number in range(60):
        site.app.dispatcher.execute(person(f"p{number:02}@kommune.no"), Subscribe(series=SLUG))
    first = site.client.get(f"/admin/s/{SLUG}/audit")
    assert first.status_code == 200
    assert first.text.index("p59@kommune.no") < first.text.index("p58@kommune.no")
    assert "p00@kommune.no" not in first.text and "Neste side" in first.text
    second = site.client.get(f"/admin/s/{SLUG}/audit", params={"page": "1"})
    assert "p00@kommune.no" in second.text


def test_another_series_people_are_out_of_reach(site: Web) -> None:
    with site.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, site.app.clock.now(), site.app.config)
        create_series(ctx, "verdensmaal", "Verdensmålsnetværk", "da", "Europe/Copenhagen")
    for path in ("subscribers", "subscribers.csv", "organisers", "audit"):
        assert site.client.get(f"/admin/s/verdensmaal/{path}").status_code == 404, path
    answer = admin_post(
        site, "/admin/s/verdensmaal/organisers", {"change": "give", "identity": KARI}, form_page=SUBSCRIBERS
    )
    assert answer.status_code == 404
