"""The regional office's own term for its districts' quarterly information (¶13.17) through the
CLI door, under the domain's rule: a head of that regional office or an administrator sets it;
a district head, a prosecutor or an unknown login is refused in words and nothing changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.config import load_settings
from web.cli import main
from workflows.demo import seed_organization
from workflows.runtime import build_engine


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NADZOR_DATABASE_URL", f"sqlite:///{tmp_path / 'term.db'}")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    invoke("db", "upgrade")
    seed_organization(build_engine(load_settings()))
    return invoke


def test_the_default_is_the_third_day(cli) -> None:
    assert json.loads(cli("org", "report-term", "ALM-OBL", "--json")) == {
        "office": "ALM-OBL",
        "day": 3,
    }


def test_the_regional_head_sets_the_term(cli) -> None:
    out = cli("org", "report-term", "ALM-OBL", "--day", "2", "--actor", "alm.head", "--json")
    assert json.loads(out)["day"] == 2
    assert json.loads(cli("org", "report-term", "ALM-OBL", "--json"))["day"] == 2


@pytest.mark.parametrize(
    ("actor", "words"),
    [
        ("tlg.head", "only a head of the regional office"),  # a district's head
        ("alm.prosecutor", "only a head of the regional office"),
        ("nobody", "does not exist"),
    ],
)
def test_others_are_refused_and_nothing_changes(cli, actor: str, words: str) -> None:
    out = cli("org", "report-term", "ALM-OBL", "--day", "9", "--actor", actor, code=2)
    assert words in out
    assert json.loads(cli("org", "report-term", "ALM-OBL", "--json"))["day"] == 3


def test_a_day_past_the_28th_or_a_district_office_is_refused(cli) -> None:
    assert "between 1 and 28" in cli(
        "org", "report-term", "ALM-OBL", "--day", "30", "--actor", "gp.admin", code=2
    )
    assert "only a regional office" in cli(
        "org", "report-term", "ALM-TLG", "--day", "4", "--actor", "gp.admin", code=2
    )
    assert "--actor" in cli("org", "report-term", "ALM-OBL", "--day", "4", code=2)


# -- the same rule through the REST API -------------------------------------------------------


@pytest.fixture
def api(domain_engine):  # type: ignore[no-untyped-def]
    from web.app import create_app
    from workflows.users import UserDirectory

    client = create_app({"NADZOR_ENGINE": domain_engine, "TESTING": True}).test_client()
    users = UserDirectory(domain_engine.db)

    def call(method: str, login: str, office: str = "ALM-OBL", **kwargs):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {users.issue_token(login)}"}
        return client.open(
            f"/api/v1/offices/{office}/report-term", method=method, headers=headers, **kwargs
        )

    return call


def test_the_api_sets_the_term_for_the_regional_head_only(api) -> None:
    assert api("GET", "tlg.prosecutor").json == {"office": "ALM-OBL", "day": 3}
    refused = api("PUT", "tlg.head", json={"day": 9})  # a district's head
    assert (
        refused.status_code == 403
        and "only a head of the regional office" in refused.json["detail"]
    )
    assert api("PUT", "alm.auditor", json={"day": 9}).status_code == 403
    assert api("PUT", "alm.head", json={"day": 31}).status_code == 422
    assert api("GET", "alm.head").json["day"] == 3  # nothing changed
    done = api("PUT", "alm.head", json={"day": 2})
    assert (done.status_code, done.json) == (200, {"office": "ALM-OBL", "day": 2})
    assert api("GET", "tlg.prosecutor").json["day"] == 2
    assert api("GET", "alm.head", office="ALM-TLG").status_code == 404  # not a regional office
