"""The procedures catalogue as people see it: names in the three UI languages, who may start
each one by hand from its start form.

The models carry their Russian names; the other languages are kept here because a BPMN
process has no place for translated names that SpiffWorkflow reads.
"""

from __future__ import annotations

PROCEDURE_TITLES: dict[str, dict[str, str]] = {
    "penalty_room_check": {
        "ru": "Проверка водворения в ШИЗО / ПКТ",
        "kk": "Айыппұл изоляторына / камералық типтегі үй-жайға орналастыруды тексеру",
        "en": "Penalty-room placement check",
    },
    "torture_report": {
        "ru": "Сообщение о пытках",
        "kk": "Азаптау туралы хабар",
        "en": "Torture report",
    },
    "npm_pmc_appeal": {
        "ru": "Обращение участника НПМ / члена ОНК",
        "kk": "ҰАТ қатысушысының / ҚБК мүшесінің өтініші",
        "en": "Appeal from an NPM or PMC member",
    },
    "emergency_report": {
        "ru": "Сообщение о чрезвычайном происшествии",
        "kk": "Төтенше оқиға туралы хабар",
        "en": "Emergency report",
    },
    "act_routing": {
        "ru": "Направление акта прокурорского реагирования",
        "kk": "Прокурорлық ден қою актісін жіберу",
        "en": "Routing an act of prosecutorial response",
    },
    "incident_report": {
        "ru": "Единичный факт: членовредительство, голодовка, суицид, спецсредства",
        "kk": "Жекелеген факт: өзіне-өзі зақым келтіру, аштық жариялау, суицид, арнаулы құралдар",
        "en": "Single incident: self-injury, hunger strike, suicide, special means",
    },
    # started by the calendar only (one case per office each quarter): no start form, so the
    # start pages do not offer it
    "quarterly_report": {
        "ru": "Ежеквартальная информация и анализ состояния надзора",
        "kk": "Қадағалаудың жай-күйі туралы тоқсандық ақпарат пен талдау",
        "en": "Quarterly information and analysis of the state of supervision",
    },
    # started by the calendar only: monthly per district office, half-yearly and quarterly per
    # regional office (¶13.10, ¶10.9)
    "reception": {
        "ru": "Приём осуждённых и обход учреждений",
        "kk": "Сотталғандарды қабылдау және мекемелерді аралау",
        "en": "Reception of convicts and inspection rounds",
    },
}

#: roles that may start procedures by hand (the other roles read, audit or edit models)
STARTING_ROLES = ("prosecutor", "head")


def procedure_title(process_id: str, locale: str, default: str | None = None) -> str:
    titles = PROCEDURE_TITLES.get(process_id) or {}
    return titles.get(locale) or titles.get("ru") or default or process_id
