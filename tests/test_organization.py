"""The organization the procedures run in: offices tree, institutions, users, lanes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine.errors import ValidationFailed
from web.cli import main
from workflows.demo import seed_organization
from workflows.organization import OrganizationDirectory, ProsecutorsOrganization
from workflows.users import UserDirectory


@pytest.fixture
def org(domain_engine):  # type: ignore[no-untyped-def]
    return ProsecutorsOrganization(OrganizationDirectory(domain_engine.db))


def test_a_colony_belongs_to_its_district_its_region_and_gp(org) -> None:
    data = {"institution": "UK-159-21"}
    assert org.assign("district prosecutor", data, "p")[:2] == ("prosecutor", "KRG-ZHZ")
    assert org.assign("regional unit", data, "p")[:2] == ("prosecutor", "KRG-OBL")
    assert org.assign("regional head", data, "p")[:2] == ("head", "KRG-OBL")
    assert org.assign("GP unit", data, "p")[:2] == ("prosecutor", "GP")


def test_a_guardhouse_is_supervised_through_the_military_line(org) -> None:
    assert org.assign("regional unit", {"institution": "GH-AST"}, "p")[:2] == ("prosecutor", "MIL")


def test_acts_resolve_from_their_office_of_origin_and_data_lanes(org) -> None:
    data = {"origin_office": "ALM-TLG", "review_office": "ALM-OBL"}
    assert org.assign("author", data, "act_routing")[:2] == ("prosecutor", "ALM-TLG")
    assert org.assign("reviewing head", data, "act_routing")[:2] == ("head", "ALM-OBL")
    assert org.assign("GP head", data, "act_routing")[:2] == ("head", "GP")


# -- ¶9.1: the GP officer responsible for a region ---------------------------------------------


def test_a_gp_unit_task_of_a_case_in_a_region_with_a_zonal_officer_goes_to_him(org) -> None:
    # the demo organisation names gp.krg for Karaganda region
    for institution in ("UK-159-21", "UK-159-11", "UK-159-1"):
        data = {"institution": institution}
        assert org.assign("GP unit", data, "p") == ("prosecutor", "GP", "gp.krg"), institution
    # an act of a Karaganda district passing GP: its GP prosecutor's task is his as well
    act = {"origin_office": "KRG-ZHZ", "handling_office": "GP"}
    assert org.assign("handling office", act, "act_routing") == ("prosecutor", "GP", "gp.krg")


def test_a_gp_unit_task_of_a_region_without_a_zonal_officer_stays_in_the_gp_queue(org) -> None:
    assert org.assign("GP unit", {"institution": "UK-161-2"}, "p") == ("prosecutor", "GP", None)
    assert org.assign("GP unit", {"origin_office": "GP"}, "p") == ("prosecutor", "GP", None)


def test_only_gp_prosecutors_tasks_are_assigned_by_region(org) -> None:
    data = {"institution": "UK-159-21"}
    assert org.assign("GP head", data, "p") == ("head", "GP", None)
    assert org.assign("regional unit", data, "p") == ("prosecutor", "KRG-OBL", None)
    assert org.assign("district prosecutor", data, "p") == ("prosecutor", "KRG-ZHZ", None)


def test_a_zonal_officer_no_longer_active_is_not_given_tasks(domain_engine, org) -> None:
    from sqlalchemy import update

    from workflows.models import UserAccount

    with domain_engine.db.write() as conn:
        table = UserAccount.__table__
        conn.execute(update(table).where(table.c.login == "gp.krg").values(active=False))
    org.directory.refresh()
    assert org.assign("GP unit", {"institution": "UK-159-21"}, "p") == ("prosecutor", "GP", None)


def test_the_escalation_of_a_karaganda_emergency_lands_in_the_zonal_officers_queue(
    domain_engine,
) -> None:
    from datetime import UTC, datetime, timedelta

    from engine.tasks import TaskQuery
    from tests.conftest import BPMN_DIR

    domain_engine.repository.publish(
        BPMN_DIR / "torture_report" / "torture_report.bpmn", now=domain_engine.clock.now()
    )
    iid = domain_engine.runtime.start(
        "torture_report",
        {
            "institution": "UK-159-11",
            "victim_name": "Иванов Олег",
            "source": "convict_appeal",
            "received_at": "2026-11-24T10:00:00+05:00",
            "description": "Применение физической силы",
        },
        actor="kar.prosecutor",
    )
    [notify] = [
        t
        for t in domain_engine.tasks.list(TaskQuery(instance_id=iid))
        if t.task_name == "notify_region"
    ]
    domain_engine.tasks.complete(
        notify.task_guid,
        {
            "region_notified_at": "2026-11-24T10:20:00+05:00",
            "region_notified_to": "Дежурный прокурор области",
        },
        actor="kar.prosecutor",
    )
    received = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    domain_engine.management.fire_due(received + timedelta(hours=1, seconds=1))
    gp_tasks = domain_engine.tasks.list(TaskQuery(instance_id=iid, offices=["GP"]))
    assert gp_tasks and {(t.role, t.assignee) for t in gp_tasks} == {("prosecutor", "gp.krg")}
    mine = domain_engine.tasks.list(TaskQuery(assignee="gp.krg"))
    assert {t.task_name for t in mine} == {t.task_name for t in gp_tasks}


# -- ¶10.10: a regional office supervising an institution in the regional centre -------------


def test_an_institution_may_name_its_regional_supervising_office(org) -> None:
    facts = org.case_facts({"institution": "UK-159-1"}, "penalty_room_check")
    assert facts["supervising_office"] == "KRG-OBL"
    assert facts["district_office"] == "KRG-KAR"  # the case still lies in its district
    usual = org.case_facts({"institution": "UK-159-11"}, "penalty_room_check")
    assert usual["supervising_office"] == "KRG-KAR"
    assert org.assign("supervising office", {**facts}, "p")[:2] == ("prosecutor", "KRG-OBL")


# -- the directory of bodies (addressees of acts, ¶12, ¶14) ------------------------------------


def test_the_directory_names_central_regional_and_local_bodies(org) -> None:
    bodies = org.directory.bodies()
    levels = [b.level for b in bodies]
    assert levels == sorted(levels, key=["central", "regional", "local"].index)
    assert {"central", "regional", "local"} == set(levels)
    kuis = org.directory.body("KUIS-MVD")
    assert (kuis.level, kuis.addressee_level, kuis.office_code) == ("central", "central", "GP")
    duis = org.directory.body("DUIS-ALM")
    assert (duis.addressee_level, duis.office_code) == ("regional", "ALM-OBL")
    assert org.directory.body("AKIMAT-TLG").addressee_level == "district"
    assert org.directory.body("NOWHERE") is None


def test_an_addressee_named_at_the_start_is_taken_from_the_directory(org) -> None:
    facts = org.case_facts({"origin_office": "ALM-TLG", "addressee": "DUIS-ALM"}, "act_routing")
    assert facts["addressee_level"] == "regional"
    assert facts["addressee_name"].startswith("Департамент уголовно-исполнительной системы")
    assert facts["addressee_office"] == "ALM-OBL"
    with pytest.raises(ValidationFailed) as refused:
        org.case_facts({"origin_office": "ALM-TLG", "addressee": "NOWHERE"}, "act_routing")
    assert refused.value.fields["addressee"].code == "unknown_body"


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
    assert first["cases_started"] >= 12  # other procedures add their demo cases
    assert {p["process_id"] for p in first["published"]} >= {
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
