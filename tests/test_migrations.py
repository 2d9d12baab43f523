"""Migrations carry the data already stored: a case started before the name-search index existed
is found by name after `nadzor db upgrade`."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from engine.migrate import upgrade


def test_upgrading_indexes_the_words_of_cases_stored_before(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision="0002")
    db = sa.create_engine(url)
    with db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO process_instance (id, definition_id, process_id, version, status,"
                " revision, state, summary, started_by, created_at, updated_at, audit_seq,"
                " audit_head)"
                " VALUES (7, 1, 'penalty_room_check', 1, 'running', 0, '', '{}', 'x',"
                " '2026-11-24 00:00:00', '2026-11-24 00:00:00', 0, '')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO case_attribute (instance_id, name, value, value_norm) VALUES"
                " (7, 'convict_name', 'Сидоров Павел', 'сидоров павел'),"
                " (7, 'resolution_number', '12/3', '12/3')"
            )
        )
    upgrade(url)
    with db.connect() as conn:
        terms = set(
            conn.execute(sa.text("SELECT term FROM case_term WHERE instance_id = 7")).scalars()
        )
    assert terms == {"сидоров", "павел", "12", "3"}
