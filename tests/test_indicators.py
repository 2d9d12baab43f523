"""Supervision indicators (issue 12): the figures of a seeded quarter equal those counted by hand.

A set of cases runs through the real procedures with the fake clock: some tasks done in time, some
late, some left open past their deadline. The figures of the region (its districts included), of
another region and of a district are compared with the numbers counted here; the page, the CSV,
the REST API and the CLI give the same numbers; a district head sees no other district's figures.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from engine.engine import Engine
from tests.conftest import BPMN_DIR
from tests.test_proc_act_routing import Case
from tests.test_proc_emergency_report import PAYLOAD as EMERGENCY
from tests.test_proc_emergency_report import REQUIRED as CHAIN
from tests.test_proc_incident_report import CHECK as INCIDENT_CHECK
from tests.test_proc_incident_report import INFORMATION, NOTICE
from tests.test_proc_incident_report import report as incident
from tests.test_proc_npm_pmc_appeal import PAYLOAD as APPEAL
from tests.test_proc_penalty_room_check import check, place, prepare_act
from tests.test_proc_torture_report import PAYLOAD as TORTURE
from tests.test_web_queue import sign_in
from web.app import create_app
from workflows.indicators import case_ids, figures, flat

Q4 = (date(2026, 10, 1), date(2026, 12, 31))
PROCEDURES = (
    "penalty_room_check",
    "act_routing",
    "emergency_report",
    "torture_report",
    "incident_report",
    "npm_pmc_appeal",
)


@pytest.fixture
def seeded(domain_engine: Engine, clock) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The quarter's cases; the clock ends 30 hours after the reports came in (t0)."""
    engine = domain_engine
    for folder in PROCEDURES:
        engine.repository.publish(BPMN_DIR / folder / f"{folder}.bpmn", now=clock.now())
    t0 = clock.now()  # Tuesday 24 November 2026, 10:00 Almaty: every report's received_at

    def start(process: str, payload: dict[str, Any]) -> Case:
        return Case(engine, engine.runtime.start(process, payload, actor="tlg.prosecutor"))

    c: dict[str, Case] = {
        "p1": place(engine),  # placed 09:30 Almaty: checked within 24 h, act sent
        "p2": place(engine),  # checked 30 h later: late
        "p3": place(engine),  # never checked: open past the deadline
        "p4": place(engine),  # checked in time, its act refused
        "k1": place(engine, institution="UK-159-21"),  # Karaganda, remote: 48 h, checked at 30 h
        "e1": start("emergency_report", {**EMERGENCY, "kind": "riot"}),  # every notice in time
        "e2": start("emergency_report", {**EMERGENCY, "kind": "escape"}),  # nothing done
        "t1": start("torture_report", TORTURE),  # late notices, registered after 2 h
        "u1": start("emergency_report", {**EMERGENCY, "kind": "unlawful_influence"}),  # pending
        "i1": incident(engine, "self_injury"),  # notice in time, GP information late
        "i2": incident(engine, "special_means"),  # no notice of its own
        "a1": start("npm_pmc_appeal", APPEAL),  # answered in time
        "a2": start("npm_pmc_appeal", APPEAL),  # still open, not yet due
    }

    def done(case: str, *names: str) -> None:
        for name in names:
            c[case].complete(name, **CHAIN.get(name, {}))

    clock.set(t0 + timedelta(minutes=20))
    done("e1", "notify_region")
    c["i1"].complete("notify_region", **NOTICE)
    c["i1"].complete("incident_check", **INCIDENT_CHECK)
    clock.set(t0 + timedelta(minutes=50))
    done("e1", "confirm_notice")
    clock.set(t0 + timedelta(hours=1))
    check(c["p1"], placement=False)
    prepare_act(c["p1"], level="district", act_type="protest")
    c["p1"].complete("act_review", decision="forward", review_comment="Согласовано")
    c["p1"].dispatch()
    check(c["p4"], placement=False)
    prepare_act(c["p4"], level="regional", act_type="submission")
    c["p4"].complete("act_review", decision="refuse", review_comment="Оснований нет")
    c["a1"].complete(
        "intake", several_institutions=False, regional_officials=False, meeting_needed=False
    )
    c["a1"].complete("appeal_check", findings="none", check_report="Проверка проведена")
    c["a1"].complete("reply", reply_number="2-15/1", reply_date="2026-11-24")
    clock.set(t0 + timedelta(hours=2))
    done("e1", "full_report")
    done("t1", "notify_region", "confirm_notice", "full_report", "regional_response")
    done("t1", "onsite_check", "decide")  # registered now: 2 hours after receipt
    clock.set(t0 + timedelta(hours=30))
    engine.management.fire_due(clock.now())  # the breaches are recorded
    check(c["p2"])
    check(c["k1"])
    c["i1"].complete("inform_gp", **INFORMATION)
    return {"engine": engine, "cases": c, "now": clock.now()}


def ids(seeded: dict[str, Any], *names: str) -> list[int]:
    return sorted((seeded["cases"][n].id for n in names), reverse=True)


def deadline(total: int, in_time: int, late: int, open_: int, overdue: int) -> dict[str, int]:
    return {"total": total, "in_time": in_time, "late": late, "open": open_, "overdue": overdue}


def test_the_regions_figures_equal_those_counted_by_hand(seeded) -> None:  # type: ignore[no-untyped-def]
    engine = seeded["engine"]
    got = figures(engine.db, "ALM-OBL", *Q4, now=seeded["now"])
    assert got["penalty_room_checks"] == {
        **deadline(4, 2, 1, 1, 1),
        "term_24h": deadline(4, 2, 1, 1, 1),
        "term_48h": deadline(0, 0, 0, 0, 0),
    }
    assert got["emergencies"]["total"] == 4
    kinds = {k: n for k, n in got["emergencies"]["by_kind"].items() if n}
    assert kinds == {"riot": 1, "escape": 1, "torture": 1, "unlawful_influence": 1}
    assert got["incidents"]["total"] == 2
    assert {k: n for k, n in got["incidents"]["by_kind"].items() if n} == {
        "self_injury": 1,
        "special_means": 1,
    }
    assert got["notices"] == {
        "1h": deadline(2, 1, 1, 0, 0),  # e1 at 50 min; t1 at 2 h
        "3h": deadline(3, 3, 0, 0, 0),  # e1 and t1 full information at 2 h; i1's notice at 20 min
        "24h": deadline(1, 0, 1, 0, 0),  # i1's information to the GP unit at 30 h
        "immediate": deadline(4, 1, 1, 2, 2),  # e1 at 20 min; t1 at 2 h; e2, u1 never
    }
    assert got["torture_reports"] == {
        "total": 2,
        "registered": 1,
        "not_registered": 0,
        "pending": 1,
        "registered_within_24h": 1,
        "hours_to_registration": {"median": 2.0, "max": 2.0},
    }
    assert got["appeals"] == deadline(2, 1, 0, 1, 0)
    acts = got["acts"]
    assert acts["total"] == 2
    assert {k: n for k, n in acts["by_type"].items() if n} == {"protest": 1, "submission": 1}
    assert {k: n for k, n in acts["by_outcome"].items() if n} == {"dispatched": 1, "refused": 1}
    assert sum(acts["by_route"].values()) == 2
    # no receptions yet; the calendar expects 2 districts x 3 months, the regional prosecutor
    # once a half-year and his deputies once a quarter
    assert got["receptions"] == {
        "held": 0,
        "open": 0,
        "expected": 8,
        "in_time": 0,
        "late": 0,
        "overdue": 0,
    }
    # the cases behind the figures
    db, now = engine.db, seeded["now"]
    assert case_ids(db, "ALM-OBL", *Q4, "penalty_room_checks.late", now=now) == ids(seeded, "p2")
    assert case_ids(db, "ALM-OBL", *Q4, "notices.immediate.overdue", now=now) == ids(
        seeded, "e2", "u1"
    )
    assert case_ids(db, "ALM-OBL", *Q4, "acts.by_outcome.refused", now=now) == ids(seeded, "p4")
    assert case_ids(db, "ALM-OBL", *Q4, "acts", now=now) == ids(seeded, "p1", "p4")


def test_every_figure_lists_as_many_cases_as_it_counts(seeded) -> None:  # type: ignore[no-untyped-def]
    """The frequent figures are counted by the database, the lists come case by case: the
    two ways agree on every figure."""
    engine, now = seeded["engine"], seeded["now"]
    for office in ("ALM-OBL", "KRG-OBL", "ALM-TLG"):
        got = figures(engine.db, office, *Q4, now=now)
        for key, value in flat(got):
            if key.startswith(("torture_reports.hours", "receptions.expected")):
                continue
            listed = case_ids(engine.db, office, *Q4, key, now=now)
            assert len(listed) == value, (office, key)


def test_another_region_and_another_period_count_only_their_cases(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, now = seeded["engine"], seeded["now"]
    krg = figures(engine.db, "KRG-OBL", *Q4, now=now)
    assert krg["penalty_room_checks"]["term_48h"] == deadline(1, 1, 0, 0, 0)  # 48 h: in time
    assert krg["emergencies"]["total"] == 0 and krg["acts"]["total"] == 0
    q3 = figures(engine.db, "ALM-OBL", date(2026, 7, 1), date(2026, 9, 30), now=now)
    assert q3["penalty_room_checks"]["total"] == 0 and q3["appeals"]["total"] == 0
    # a district sees its own cases: all of Almaty region's are Talgar's
    tlg = figures(engine.db, "ALM-TLG", *Q4, now=now)
    assert (
        tlg["penalty_room_checks"]
        == figures(engine.db, "ALM-OBL", *Q4, now=now)["penalty_room_checks"]
    )
    assert figures(engine.db, "ALM-KNV", *Q4, now=now)["emergencies"]["total"] == 0
    # the day of receipt is an Almaty date: 24 November alone holds every case
    day = date(2026, 11, 24)
    assert figures(engine.db, "ALM-OBL", day, day, now=now)["emergencies"]["total"] == 4
    day = date(2026, 11, 25)
    assert figures(engine.db, "ALM-OBL", day, day, now=now)["emergencies"]["total"] == 0


@pytest.fixture
def web(seeded):  # type: ignore[no-untyped-def]
    app = create_app({"NADZOR_ENGINE": seeded["engine"], "TESTING": True})
    return app.test_client()


def _csv(text: str) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    return {row[4]: row[5] for row in rows[1:]}


def test_page_csv_api_and_cli_give_the_same_numbers(seeded, web, database_url) -> None:  # type: ignore[no-untyped-def]
    engine, now = seeded["engine"], seeded["now"]
    expected = figures(engine.db, "ALM-OBL", *Q4, now=now)
    query = "office=ALM-OBL&from=2026-10-01&to=2026-12-31"
    assert sign_in(web, "alm.head").status_code == 302
    page = web.get(f"/indicators?{query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-key="penalty_room_checks.late"' in html
    assert "<canvas" in html and 'type="application/json"' in html
    # the number beside each figure links to the cases behind it
    late_link = (
        f"/indicators/cases?figure=penalty_room_checks.late&amp;{query.replace('&', '&amp;')}"
    )
    assert late_link in html
    listed = web.get(f"/indicators/cases?figure=penalty_room_checks.late&{query}")
    assert listed.status_code == 200
    assert f'data-case="{seeded["cases"]["p2"].id}"' in listed.get_data(as_text=True)
    assert 'data-case="' + str(seeded["cases"]["p3"].id) + '"' not in listed.get_data(as_text=True)
    # CSV: one row per figure, the same values
    exported = web.get(f"/indicators.csv?{query}")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = _csv(exported.get_data(as_text=True))
    assert rows == {k: "" if v is None else str(v) for k, v in flat(expected)}
    # REST API with a token
    from workflows.users import UserDirectory

    token, _ = UserDirectory(engine.db).issue_token_until("alm.head")
    api = web.get(f"/api/v1/indicators?{query}", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    got = api.get_json()
    assert {k: v for k, v in got.items() if k != "computed_at"} == {
        k: v for k, v in expected.items() if k != "computed_at"
    }
    # the CLI over the same database (its clock is the system's: the counts of done and late
    # tasks do not depend on it)
    from web.cli import main

    result = CliRunner().invoke(
        main,
        [
            "indicators",
            "--office",
            "ALM-OBL",
            "--from",
            "2026-10-01",
            "--to",
            "2026-12-31",
            "--json",
        ],
        env={"NADZOR_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    for key in ("emergencies", "incidents", "torture_reports", "acts", "receptions"):
        assert cli[key] == expected[key]
    assert cli["penalty_room_checks"]["late"] == expected["penalty_room_checks"]["late"]


def test_a_district_head_sees_no_other_districts_figures(seeded, web) -> None:  # type: ignore[no-untyped-def]
    query = "from=2026-10-01&to=2026-12-31"
    assert sign_in(web, "knv.head").status_code == 302
    own = web.get(f"/indicators?office=ALM-KNV&{query}")
    assert own.status_code == 200
    other = web.get(f"/indicators?office=ALM-TLG&{query}")
    assert other.status_code == 403
    assert "outside your office" in other.get_data(as_text=True) or "вне" in other.get_data(
        as_text=True
    )
    assert 'data-key="penalty_room_checks.late"><td>' in other.get_data(as_text=True)  # own shown
    assert web.get(f"/indicators.csv?office=ALM-OBL&{query}").status_code == 403
    assert web.get(f"/indicators/cases?figure=acts&office=ALM-TLG&{query}").status_code == 403
    from workflows.users import UserDirectory

    engine = seeded["engine"]
    token, _ = UserDirectory(engine.db).issue_token_until("knv.head")
    auth = {"Authorization": f"Bearer {token}"}
    assert web.get(f"/api/v1/indicators?office=ALM-TLG&{query}", headers=auth).status_code == 403
    bad = web.get("/api/v1/indicators?from=2026-13-01", headers=auth)
    assert bad.status_code == 400 and "from" in bad.get_json()["fields"]
    # a district prosecutor reads no indicators; an auditor and the GP unit do
    token, _ = UserDirectory(engine.db).issue_token_until("tlg.prosecutor")
    prosecutor = {"Authorization": f"Bearer {token}"}
    assert web.get(f"/api/v1/indicators?{query}", headers=prosecutor).status_code == 403
    for login, office in (("alm.auditor", "ALM-OBL"), ("gp.prosecutor", "KRG-OBL")):
        token, _ = UserDirectory(engine.db).issue_token_until(login)
        answer = web.get(
            f"/api/v1/indicators?office={office}&{query}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, login


def test_receptions_are_counted_against_the_calendar(domain_engine) -> None:  # type: ignore[no-untyped-def]
    """December's district receptions start on the 1st (the calendar); Talgar holds its own in
    time, Konayev does not: at the new year one held in time, one overdue, of 8 expected."""
    from tests.test_proc_reception import DEC_1, JAN_1, MODEL, RECORD, SECOND, case_of

    engine = domain_engine
    engine.repository.publish(MODEL, now=engine.clock.now())
    engine.management.fire_due(DEC_1 + SECOND)
    case_of(engine, "district_reception", "ALM-TLG").complete("district_reception", **RECORD)
    got = figures(engine.db, "ALM-OBL", *Q4, now=JAN_1 + SECOND)
    assert got["receptions"] == {
        "held": 1,
        "open": 1,
        "expected": 8,
        "in_time": 1,
        "late": 0,
        "overdue": 1,
    }
    assert figures(engine.db, "ALM-KNV", *Q4, now=JAN_1 + SECOND)["receptions"]["overdue"] == 1
    assert figures(engine.db, "ALM-TLG", *Q4, now=JAN_1 + SECOND)["receptions"]["expected"] == 3
    konayev = case_of(engine, "district_reception", "ALM-KNV").id
    assert case_ids(engine.db, "ALM-OBL", *Q4, "receptions.overdue", now=JAN_1 + SECOND) == [
        konayev
    ]
