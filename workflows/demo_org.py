"""The demo organization: GP, regional and equated offices, districts, institutions, users.

Names are given in Russian (the default), Kazakh and English. Codes are stable: tests and the
demo cases refer to them.
"""

from __future__ import annotations

DEMO_PASSWORD = "nadzor-demo"

# code, level, kind, parent, ru, kk, en
OFFICES: list[tuple[str, str, str, str | None, str, str, str]] = [
    (
        "GP",
        "gp",
        "territorial",
        None,
        "Генеральная прокуратура Республики Казахстан",
        "Қазақстан Республикасының Бас прокуратурасы",
        "General Prosecutor's Office",
    ),
    (
        "ALM-OBL",
        "regional",
        "territorial",
        "GP",
        "Прокуратура Алматинской области",
        "Алматы облысының прокуратурасы",
        "Almaty Region Prosecutor's Office",
    ),
    (
        "KRG-OBL",
        "regional",
        "territorial",
        "GP",
        "Прокуратура Карагандинской области",
        "Қарағанды облысының прокуратурасы",
        "Karaganda Region Prosecutor's Office",
    ),
    (
        "AST-CITY",
        "regional",
        "city",
        "GP",
        "Прокуратура города Астаны",
        "Астана қаласының прокуратурасы",
        "Astana City Prosecutor's Office",
    ),
    (
        "MIL",
        "regional",
        "military",
        "GP",
        "Главная военная прокуратура",
        "Бас әскери прокуратура",
        "Chief Military Prosecutor's Office",
    ),
    (
        "ALM-TLG",
        "district",
        "territorial",
        "ALM-OBL",
        "Прокуратура Талгарского района",
        "Талғар ауданының прокуратурасы",
        "Talgar District Prosecutor's Office",
    ),
    (
        "ALM-KNV",
        "district",
        "territorial",
        "ALM-OBL",
        "Прокуратура города Конаева",
        "Қонаев қаласының прокуратурасы",
        "Konayev City Prosecutor's Office",
    ),
    (
        "KRG-KAR",
        "district",
        "territorial",
        "KRG-OBL",
        "Прокуратура по надзору за законностью в учреждениях УИС города Караганды",
        "Қарағанды қаласының ҚАЖ мекемелеріндегі заңдылықты қадағалау прокуратурасы",
        "Karaganda Penal Institutions Prosecutor's Office",
    ),
    (
        "KRG-ZHZ",
        "district",
        "territorial",
        "KRG-OBL",
        "Прокуратура города Жезказгана",
        "Жезқазған қаласының прокуратурасы",
        "Zhezkazgan City Prosecutor's Office",
    ),
    (
        "AST-ESL",
        "district",
        "territorial",
        "AST-CITY",
        "Прокуратура района Есиль города Астаны",
        "Астана қаласы Есіл ауданының прокуратурасы",
        "Yesil District Prosecutor's Office, Astana",
    ),
    (
        "MIL-AST",
        "district",
        "military",
        "MIL",
        "Военная прокуратура Астанинского гарнизона",
        "Астана гарнизонының әскери прокуратурасы",
        "Astana Garrison Military Prosecutor's Office",
    ),
]

# code, kind, district office, remote, ru, kk, en
INSTITUTIONS: list[tuple[str, str, str, bool, str, str, str]] = [
    (
        "UK-161-2",
        "colony",
        "ALM-TLG",
        False,
        "Учреждение ЛА-155/2 (колония средней безопасности)",
        "ЛА-155/2 мекемесі (орташа қауіпсіздік колониясы)",
        "Institution LA-155/2 (medium-security colony)",
    ),
    (
        "SIZO-ALM",
        "sizo",
        "ALM-KNV",
        False,
        "Следственный изолятор ЛА-155/18",
        "ЛА-155/18 тергеу изоляторы",
        "Pre-trial detention facility LA-155/18",
    ),
    (
        "UK-159-11",
        "colony",
        "KRG-KAR",
        False,
        "Учреждение АК-159/11",
        "АК-159/11 мекемесі",
        "Institution AK-159/11",
    ),
    (
        "UK-159-21",
        "colony",
        "KRG-ZHZ",
        True,
        "Учреждение АК-159/21 (отдалённое)",
        "АК-159/21 мекемесі (шалғай)",
        "Institution AK-159/21 (remote)",
    ),
    (
        "UK-159-30",
        "colony",
        "KRG-ZHZ",
        True,
        "Учреждение АК-159/30 (посёлок Шахтёрский, отдалённое)",
        "АК-159/30 мекемесі (шалғай)",
        "Institution AK-159/30 (remote)",
    ),
    (
        "SIZO-AST",
        "sizo",
        "AST-ESL",
        False,
        "Следственный изолятор ЕЦ-166/1",
        "ЕЦ-166/1 тергеу изоляторы",
        "Pre-trial detention facility EC-166/1",
    ),
    (
        "UK-166-4",
        "colony",
        "AST-ESL",
        False,
        "Учреждение ЕЦ-166/4",
        "ЕЦ-166/4 мекемесі",
        "Institution EC-166/4",
    ),
    (
        "GH-AST",
        "guardhouse",
        "MIL-AST",
        False,
        "Гауптвахта Астанинского гарнизона",
        "Астана гарнизонының гауптвахтасы",
        "Astana garrison guardhouse",
    ),
    (
        "SIZO-NSC-AST",
        "sizo",
        "AST-ESL",
        False,
        "Следственный изолятор КНБ в городе Астане",
        "Астанадағы ҰҚК тергеу изоляторы",
        "NSC pre-trial detention facility, Astana",
    ),
]

#: the prefix of each office's demo logins (`tlg.prosecutor`, `tlg.head`, ...)
LOGIN_PREFIX = {
    "GP": "gp",
    "ALM-OBL": "alm",
    "KRG-OBL": "krg",
    "AST-CITY": "ast",
    "MIL": "mil",
    "ALM-TLG": "tlg",
    "ALM-KNV": "knv",
    "KRG-KAR": "kar",
    "KRG-ZHZ": "zhz",
    "AST-ESL": "esl",
    "MIL-AST": "milast",
}

_PEOPLE = [
    "Ахметов Ержан",
    "Серикова Айгуль",
    "Иванов Павел",
    "Нурланова Дана",
    "Ким Виктор",
    "Жумабеков Арман",
    "Петрова Ольга",
    "Садыков Марат",
    "Оспанова Гульнара",
    "Абенов Тимур",
    "Ли Наталья",
    "Касымов Берик",
    "Морозова Елена",
    "Туленов Асхат",
    "Исаева Жанар",
    "Смагулов Данияр",
    "Волкова Ирина",
    "Байжанов Нуржан",
    "Ермекова Салтанат",
    "Попов Андрей",
    "Калиев Ринат",
    "Мухамедиева Асель",
    "Орлов Сергей",
    "Бекова Мадина",
    "Тасмагамбетов Ильяс",
    "Егорова Анна",
    "Кенжебаев Самат",
    "Рахимова Алия",
    "Федоров Денис",
    "Нуртаева Камила",
]


def demo_users() -> list[dict[str, object]]:
    """A prosecutor and a head in every office; methodologist, auditor, admin at each level."""
    users: list[dict[str, object]] = []
    names = iter(_PEOPLE * 2)
    for code, level, _kind, _parent, *_ in OFFICES:
        short = LOGIN_PREFIX[code]
        roles = ["prosecutor", "head"]
        if code in ("GP", "ALM-OBL", "ALM-TLG"):
            roles += ["methodologist", "auditor"]
        if code == "GP":
            roles.append("admin")
        for role in roles:
            users.append(
                {
                    "login": f"{short}.{role}",
                    "name": next(names),
                    "office_code": code,
                    "roles": [role],
                }
            )
        if level == "district":
            users.append(
                {
                    "login": f"{short}.prosecutor2",
                    "name": next(names),
                    "office_code": code,
                    "roles": ["prosecutor"],
                }
            )
    return users
