"""The header offers each user the places their roles work in: the task queues only to those who
work cases (prosecutors, heads); an auditor or a methodologist, whom no task is ever given, sees
their own areas instead of two queues that are always empty."""

from __future__ import annotations

from typing import Any

import pytest

from engine.engine import Engine
from tests.test_case_migration import _sign_in
from web.app import create_app


def _header(engine: Engine, login: str) -> str:
    web = create_app({"NADZOR_ENGINE": engine, "TESTING": True}).test_client()
    _sign_in(web, login)
    html = web.get("/", follow_redirects=True).get_data(as_text=True)
    return html.split("</header>", 1)[0]


@pytest.mark.parametrize(
    ("login", "shown", "hidden"),
    [
        ("tlg.prosecutor", ["nav-mine", "nav-office"], ["nav-procedures", "nav-incidents"]),
        ("tlg.head", ["nav-mine", "nav-office", "nav-indicators"], ["nav-procedures"]),
        ("tlg.auditor", ["nav-indicators"], ["nav-mine", "nav-office", "nav-procedures"]),
        ("gp.methodologist", ["nav-procedures", "nav-incidents"], ["nav-mine", "nav-office"]),
    ],
)
def test_the_header_offers_what_the_roles_work_in(
    domain_engine: Engine, login: str, shown: list[str], hidden: list[str]
) -> None:
    header: Any = _header(domain_engine, login)
    for link in shown:
        assert f'id="{link}"' in header, (login, link)
    for link in hidden:
        assert f'id="{link}"' not in header, (login, link)
    # the queues by their addresses too (a link without its id is still a link)
    works_cases = "nav-mine" in shown
    for words in ("My tasks", "Office queue", "Мои задачи", "Очередь прокуратуры"):
        assert (words in header) is (works_cases and words in ("Мои задачи", "Очередь прокуратуры"))
