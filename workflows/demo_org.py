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
        "UK-159-1",
        "colony",
        "KRG-KAR",
        False,
        "Учреждение АК-159/1 (город Караганда, областной центр)",
        "АК-159/1 мекемесі (Қарағанды қаласы, облыс орталығы)",
        "Institution AK-159/1 (Karaganda, the regional centre)",
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

#: institutions in a regional centre that the regional office supervises itself (¶10.10)
SUPERVISING_OFFICES: dict[str, str] = {"UK-159-1": "KRG-OBL"}

# code, level (central | regional | local), office of its territory, ru, kk, en
BODIES: list[tuple[str, str, str, str, str, str]] = [
    (
        "KUIS-MVD",
        "central",
        "GP",
        "Комитет уголовно-исполнительной системы МВД Республики Казахстан",
        "ҚР ІІМ Қылмыстық-атқару жүйесі комитеті",
        "Penal Enforcement Committee of the Ministry of Internal Affairs",
    ),
    (
        "MIN-DEF",
        "central",
        "GP",
        "Министерство обороны Республики Казахстан",
        "Қазақстан Республикасының Қорғаныс министрлігі",
        "Ministry of Defence",
    ),
    (
        "DUIS-ALM",
        "regional",
        "ALM-OBL",
        "Департамент уголовно-исполнительной системы по Алматинской области",
        "Алматы облысы бойынша қылмыстық-атқару жүйесі департаменті",
        "Penal Enforcement Department for Almaty Region",
    ),
    (
        "DUIS-KRG",
        "regional",
        "KRG-OBL",
        "Департамент уголовно-исполнительной системы по Карагандинской области",
        "Қарағанды облысы бойынша қылмыстық-атқару жүйесі департаменті",
        "Penal Enforcement Department for Karaganda Region",
    ),
    (
        "DP-AST",
        "regional",
        "AST-CITY",
        "Департамент полиции города Астаны",
        "Астана қаласының полиция департаменті",
        "Astana City Police Department",
    ),
    (
        "RK-ASTANA",
        "regional",
        "MIL",
        "Региональное командование «Астана» Сухопутных войск",
        "Құрлық әскерлерінің «Астана» өңірлік қолбасшылығы",
        "Regional Command Astana of the Land Forces",
    ),
    (
        "ADM-LA-155-2",
        "local",
        "ALM-TLG",
        "Администрация учреждения ЛА-155/2",
        "ЛА-155/2 мекемесінің әкімшілігі",
        "Administration of institution LA-155/2",
    ),
    (
        "AKIMAT-TLG",
        "local",
        "ALM-TLG",
        "Акимат Талгарского района",
        "Талғар ауданының әкімдігі",
        "Talgar District Akimat",
    ),
    (
        "ADM-AK-159-11",
        "local",
        "KRG-KAR",
        "Администрация учреждения АК-159/11",
        "АК-159/11 мекемесінің әкімшілігі",
        "Administration of institution AK-159/11",
    ),
    (
        "ADM-AK-159-21",
        "local",
        "KRG-ZHZ",
        "Администрация учреждения АК-159/21",
        "АК-159/21 мекемесінің әкімшілігі",
        "Administration of institution AK-159/21",
    ),
    (
        "ADM-EC-166-4",
        "local",
        "AST-ESL",
        "Администрация учреждения ЕЦ-166/4",
        "ЕЦ-166/4 мекемесінің әкімшілігі",
        "Administration of institution EC-166/4",
    ),
    (
        "ADM-AK-159-30",
        "local",
        "KRG-ZHZ",
        "Администрация учреждения АК-159/30",
        "АК-159/30 мекемесінің әкімшілігі",
        "Administration of institution AK-159/30",
    ),
]

#: GP officers responsible for a region (¶9.1): region office -> login (a GP prosecutor)
ZONAL_OFFICERS: dict[str, str] = {"KRG-OBL": "gp.krg"}

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
        if code == "GP":  # the officer who watches Karaganda region (ZONAL_OFFICERS)
            users.append(
                {
                    "login": "gp.krg",
                    "name": "Абдрахманов Ерлан",
                    "office_code": code,
                    "roles": ["prosecutor"],
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


def seed_directory(db: object) -> int:
    """The demo's bodies, supervising offices (¶10.10) and zonal officers (¶9.1): only what is
    missing is added, so a re-run changes nothing. Runs after the offices, institutions and
    users exist (the rows refer to them). Returns how many rows were written."""
    from sqlalchemy import insert, select, update

    from .models import Body, Institution, ZonalOfficer

    body, institution, zonal = Body.__table__, Institution.__table__, ZonalOfficer.__table__
    written = 0
    with db.write() as conn:  # type: ignore[attr-defined]
        known = set(conn.execute(select(body.c.code)).scalars())
        for code, level, office, ru, kk, en in BODIES:
            if code not in known:
                conn.execute(
                    insert(body).values(
                        code=code,
                        name=ru,
                        names={"ru": ru, "kk": kk, "en": en},
                        level=level,
                        office_code=office,
                    )
                )
                written += 1
        for code, office in SUPERVISING_OFFICES.items():
            written += conn.execute(
                update(institution)
                .where(institution.c.code == code, institution.c.supervising_office_code.is_(None))
                .values(supervising_office_code=office)
            ).rowcount
        known = set(conn.execute(select(zonal.c.region_code)).scalars())
        for region, login in ZONAL_OFFICERS.items():
            if region not in known:
                conn.execute(insert(zonal).values(region_code=region, login=login))
                written += 1
    return written
