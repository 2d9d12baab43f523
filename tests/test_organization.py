"""The organization the procedures run in: offices tree, institutions, users, lanes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from web.cli import main
from workflows.demo import seed_organization
from workflows.organization import OrganizationDirectory, ProsecutorsOrganization
from workflows.users import UserDirectory


@pytest.fixture
def org(domain_engine):  # type: ignore[no-untyped-def]
    return ProsecutorsOrganization(OrganizationDirectory(domain_engine.db))


def test_a_colony_belongs_to_its_district_its_region_and_gp(org) -> None:
    data = {"institution": "UK-159-21"}
    assert org.assign("district prosecutor", data, "p") == ("prosecutor", "KRG-ZHZ")
    assert org.assign("regional unit", data, "p") == ("prosecutor", "KRG-OBL")
    assert org.assign("regional head", data, "p") == ("head", "KRG-OBL")
    assert org.assign("GP unit", data, "p") == ("prosecutor", "GP")


def test_a_guardhouse_is_supervised_through_the_military_line(org) -> None:
    assert org.assign("regional unit", {"institution": "GH-AST"}, "p") == ("prosecutor", "MIL")


def test_acts_resolve_from_their_office_of_origin_and_data_lanes(org) -> None:
    data = {"origin_office": "ALM-TLG", "review_office": "ALM-OBL"}
    assert org.assign("author", data, "act_routing") == ("prosecutor", "ALM-TLG")
    assert org.assign("reviewing head", data, "act_routing") == ("head", "ALM-OBL")
    assert org.assign("GP head", data, "act_routing") == ("head", "GP")


def test_case_facts_give_models_the_remote_flag_and_offices(org) -> None:
    facts = org.case_facts({"institution": "UK-159-21"}, "penalty_room_check")
    assert facts["institution_remote"] is True
    assert (facts["district_office"], facts["regional_office"], facts["gp_office"]) == (
        "KRG-ZHZ",
        "KRG-OBL",
        "GP",
    )


def test_a_regional_office_sees_its_districts(org) -> None:
    assert org.directory.offices_within("KRG-OBL") == {"KRG-OBL", "KRG-KAR", "KRG-ZHZ"}


def test_seeding_twice_changes_nothing(domain_engine) -> None:
    again = seed_organization(domain_engine)
    assert again == {"offices": 0, "institutions": 0, "users": 0}


def test_every_role_exists_at_every_office_level(domain_engine) -> None:
    users = UserDirectory(domain_engine.db).list()
    for level in ("gp", "regional", "district"):
        roles = {r for u in users if u.office_level == level for r in u.roles}
        assert {"prosecutor", "head", "methodologist", "auditor"} <= roles, level
    assert any("admin" in u.roles for u in users)


def test_demo_password_signs_in_and_a_token_identifies_the_user(domain_engine) -> None:
    users = UserDirectory(domain_engine.db)
    assert users.authenticate("tlg.prosecutor", "nadzor-demo").office_code == "ALM-TLG"
    assert users.authenticate("tlg.prosecutor", "wrong") is None
    token = users.issue_token("gp.auditor")
    assert users.by_token(token).login == "gp.auditor"
    assert users.by_token("not-a-token") is None


def test_cli_lists_users_and_institutions_with_the_contract_keys(
    domain_engine, monkeypatch
) -> None:
    monkeypatch.setenv("NADZOR_DATABASE_URL", str(domain_engine.db.url))
    runner = CliRunner()
    users = json.loads(runner.invoke(main, ["users", "list", "--json"]).output)
    assert {"login", "name", "office_code", "office_level", "roles"} <= set(users[0])
    assert {u["office_level"] for u in users} == {"gp", "regional", "district"}
    institutions = json.loads(runner.invoke(main, ["org", "institutions", "--json"]).output)
    remote = [i for i in institutions if i["remote"]]
    assert len(institutions) >= 8 and len(remote) >= 2
    first = next(i for i in institutions if i["code"] == "UK-159-21")
    assert first == {
        "code": "UK-159-21",
        "name": first["name"],
        "kind": "colony",
        "district_office_code": "KRG-ZHZ",
        "regional_office_code": "KRG-OBL",
        "remote": True,
    }
    issued = runner.invoke(main, ["users", "token", "gp.auditor"])
    token = issued.stdout.strip()  # the token alone; its expiry goes to stderr
    assert "expires at" in issued.stderr
    assert UserDirectory(domain_engine.db).by_token(token).login == "gp.auditor"


def test_seed_demo_starts_a_working_queue_once(domain_engine) -> None:
    from sqlalchemy import func, select

    from engine.models import HumanTask, ProcessInstance
    from workflows.demo import seed

    first = seed(domain_engine)
    assert first["cases_started"] == 12
    assert {p["process_id"] for p in first["published"]} == {
        "penalty_room_check",
        "torture_report",
        "npm_pmc_appeal",
        "act_routing",
    }
    again = seed(domain_engine)
    assert again["cases_started"] == 0 and not any(p["created"] for p in again["published"])
    with domain_engine.db.read() as conn:
        statuses = dict(
            conn.execute(
                select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)
            ).all()
        )
        open_tasks = conn.execute(
            select(func.count()).select_from(HumanTask).where(HumanTask.state == "ready")
        ).scalar()
    assert statuses["completed"] >= 1 and statuses["running"] >= 10
    assert open_tasks >= 12
    assert any(line.startswith("  tlg.prosecutor") for line in first["lines"])
    assert domain_engine.verify_history()["ok"] is True
