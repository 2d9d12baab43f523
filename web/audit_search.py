"""The auditors' workspace: find any case in the scope, and see who read a case.

- `/audit/`: cases by procedure, version, office, institution, a person named in the case,
  the date it was opened, its status, "a deadline was breached", "an incident happened";
  newest first, fifty a page, each linking to the case page and to its trace.
- `/audit/access`: the access log of every case in the scope (who, when, what, from where,
  and the refusals), filtered by login, case and dates.
- `/audit/cases/<id>/access`: the same for one case.

Role `auditor` only, read-only (every route is a GET), within the auditor's office scope
(workflows/scope.py): a district auditor never sees a row of another district, a regional one
sees the region's districts, the General Prosecutor's Office everything. The query is one
indexed statement (engine/audit_search.py); no workflow is restored.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from babel.dates import format_datetime
from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext
from flask_login import current_user, login_required

from engine.audit_search import CaseHit, CaseQuery, CaseSearch
from engine.errors import NotFound
from workflows.access_log import AccessLog, AccessQuery
from workflows.catalogue import procedure_title
from workflows.rights import Refusal
from workflows.scope import CASE_ROLES, can_see_office, visible_offices
from workflows.users import User

from .access_log import record_access
from .case_file import institution_name, office_name
from .forms import parse_local_date
from .i18n import DATE_PATTERNS, DEFAULT_LOCALE, LOCAL_ZONE, local_time, locale_code, translated
from .ids import register_converters
from .refusals import abort_page

audit = Blueprint("audit", __name__)
audit.record(register_converters)

PAGE = 50
_MARK = 987654321987  # a case number standing for "this row's" in a link pattern
COUNT_CAP = 1000  # counted this far, then "1000+" (as the queues do)
MAX_PAGE = 200  # 10,000 rows deep is as far as paging goes; narrow the search instead
#: start-data values that name a person, shown on a result row
PEOPLE = ("convict_name", "victim_name", "applicant_name", "addressee_name")
#: start-data values a number given whole may be (besides the case's own number)
NUMBERS = ("resolution_number",)
STATUS_WORDS = {
    "running": lazy_gettext("open"),
    "completed": lazy_gettext("closed"),
    "cancelled": lazy_gettext("case cancelled"),
}
WHAT_WORDS = {
    "case": lazy_gettext("case page"),
    "task": lazy_gettext("task page"),
    "diagram": lazy_gettext("diagram"),
    "trace": lazy_gettext("trace"),
    "export": lazy_gettext("export"),
    "export_report": lazy_gettext("printable report"),
    "export_json": lazy_gettext("export (JSON)"),
    "export_csv": lazy_gettext("export (CSV)"),
    "api": lazy_gettext("API read"),
    "attachment": lazy_gettext("attached file"),
    "access_log": lazy_gettext("access log"),
}
SEARCH_PARAMS = (
    "procedure",
    "version",
    "office",
    "institution",
    "q",
    "from",
    "to",
    "status",
    "breached",
    "incident",
)
ACCESS_PARAMS = ("login", "case", "from", "to", "refused")


def _engine() -> Any:
    return current_app.extensions["nadzor.engine"]


def _directory() -> Any:
    return current_app.extensions["nadzor.directory"]


def is_auditor_only(user: User) -> bool:
    """An auditor who works no cases: the audit search is their start page."""
    return user.has_role("auditor") and not user.has_role(*CASE_ROLES)


def landing_url(user: User) -> str:
    """Where a user lands after signing in."""
    from .procedures_ui import is_methodologist_only  # a methodologist works on the models

    if is_methodologist_only(user):
        return url_for("procedures.procedure_list")
    return url_for("audit.search") if is_auditor_only(user) else url_for("tasks.office_queue")


def _auditor() -> User:
    user: User = current_user.user
    if not user.has_role("auditor"):
        abort_page(Refusal("forbidden", "not_auditor", "only auditors use the audit workspace"))
    return user


def scope_of(user: User) -> list[str] | None:
    """The offices whose cases the user sees; None: every case (the GP's scope)."""
    if user.office_level == "gp":
        return None
    return sorted(visible_offices(_directory(), user))


def _page() -> int:
    raw = request.args.get("page", "1")
    if raw.isascii() and raw.isdigit() and len(raw) <= 4:
        return min(max(int(raw), 1), MAX_PAGE)
    return 1


def _day(raw: str) -> date | None:
    try:
        return parse_local_date(raw) if raw else None
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    """Midnight in Almaty, the instant the local day begins."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_ZONE)


def _pages(total: int, page: int, more: bool) -> str | int:
    pages = COUNT_CAP // PAGE if more else max(-(-total // PAGE), 1)
    return f"{max(pages, page)}+" if more else pages


# -- search ------------------------------------------------------------------------------------


def search_query(user: User, params: dict[str, str], problems: dict[str, str]) -> CaseQuery:
    """The form's values as a query within the user's scope; an unreadable value is left out
    and named in `problems` (an office or institution outside the scope is no filter, not a
    leak: it cannot be chosen)."""
    directory = _directory()
    scope = scope_of(user)
    query = CaseQuery(offices=scope)
    if params["procedure"]:
        query.process_id = params["procedure"]
    if params["version"]:
        if params["version"].isdigit() and len(params["version"]) <= 6:
            query.version = int(params["version"])
        else:
            problems["version"] = gettext("The version is a whole number.")
    if params["office"]:
        if can_see_office(directory, user, params["office"]):
            query.office_code = params["office"]
        else:
            problems["office"] = gettext("Choose an office of your scope.")
    if params["institution"]:
        found = directory.institution(params["institution"])
        if found is not None and can_see_office(directory, user, found.district_office_code):
            query.attributes = {"institution": params["institution"]}
        else:
            problems["institution"] = gettext("Choose an institution of your scope.")
    if params["q"]:
        query.text = params["q"][:100]
        query.numbers = NUMBERS
    for key in ("from", "to"):
        if params[key] and _day(params[key]) is None:
            problems[key] = gettext("Format: DD.MM.YYYY, for example 24.11.2026.")
    start, end = _day(params["from"]), _day(params["to"])
    if start is not None:
        query.started_from = _start_of(start)
    if end is not None:
        query.started_before = _start_of(end + timedelta(days=1))
    if params["status"] in STATUS_WORDS:
        query.status = params["status"]
    query.breached = params["breached"] == "1"
    query.incident = params["incident"] == "1"
    return query


@audit.app_template_global("audit_link")
def audit_link(endpoint: str, **values: Any) -> str | None:
    """The address of another audit page (web/audit_trace.py), or None if the app has none."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _trace_url(case_id: int) -> str:
    """The case's trace (web/audit_trace.py) when the app has it, else the case page."""
    return audit_link("audit_trace.trace_page", instance_id=case_id) or url_for(
        "cases.case_page", instance_id=case_id
    )


class Names:
    """Offices, institutions and procedures in the user's language, each looked up once a
    page (a page names the same few offices fifty times); times as `local_time` words them,
    with the locale and pattern looked up once; links built from one pattern each."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.directory = _directory()
        self._seen: dict[tuple[str, str], str] = {}
        self._babel_locale = get_locale()
        self._pattern = f"{DATE_PATTERNS.get(locale, DATE_PATTERNS[DEFAULT_LOCALE])}, HH:mm"
        self._links: dict[str, str] = {}

    def time(self, instant: datetime | None) -> str:
        """The same words as web/i18n.py `local_time`, without its per-call lookups."""
        if instant is None:
            return ""
        return format_datetime(instant, self._pattern, tzinfo=LOCAL_ZONE, locale=self._babel_locale)

    def link(self, endpoint: str, case_id: int) -> str:
        """`url_for(endpoint, instance_id=case_id)`, from a pattern made once a page."""
        if endpoint not in self._links:
            self._links[endpoint] = url_for(endpoint, instance_id=_MARK).replace(str(_MARK), "{}")
        return self._links[endpoint].format(case_id)

    def _get(self, kind: str, code: str, find: Any) -> str:
        key = (kind, code)
        if key not in self._seen:
            self._seen[key] = find(code)
        return self._seen[key]

    def office(self, code: str | None) -> str:
        if not code:
            return "—"
        return self._get("o", code, lambda c: office_name(self.directory, c, self.locale))

    def institution(self, code: str | None) -> str:
        if not code:
            return ""
        return self._get("i", code, lambda c: institution_name(self.directory, c, self.locale))

    @property
    def trace_endpoint(self) -> str:
        """The trace (web/audit_trace.py) when the app has it, else the case page."""
        if "audit_trace.trace_page" in current_app.view_functions:
            return "audit_trace.trace_page"
        return "cases.case_page"

    def status(self, code: str) -> str:
        return self._get("s", code, lambda c: str(STATUS_WORDS.get(c, c)))

    def version(self, number: int) -> str:
        return self._get("v", str(number), lambda n: gettext("version %(n)s", n=n))

    def procedure(self, process_id: str) -> str:
        return self._get("p", process_id, lambda p: procedure_title(p, self.locale))


def hit_row(hit: CaseHit, names: Names) -> dict[str, Any]:
    return {
        "hit": hit,
        "procedure": names.procedure(hit.process_id),
        "version": names.version(hit.version),
        "office": names.office(hit.office_code),
        "institution": names.institution(hit.values.get("institution")),
        "people": [hit.values[k] for k in PEOPLE if hit.values.get(k)],
        "started": names.time(hit.created_at),
        "closed": names.time(hit.completed_at),
        "status": names.status(hit.status),
        "breached": names.time(hit.breached_at),
        "incident": names.time(hit.incident_at),
        "case_url": names.link("cases.case_page", hit.id),
        "trace_url": names.link(names.trace_endpoint, hit.id),
        "access_url": names.link("audit.case_access", hit.id),
    }


def _choices(user: User, locale: str) -> dict[str, Any]:
    """The form's choices: procedures and versions that have cases, offices and institutions
    of the user's scope, in the user's language."""
    directory = _directory()
    published = _engine().repository.list()  # every version, from the small definitions table
    procedures = sorted({d["process_id"] for d in published})
    offices = [
        (o.code, translated(o.name, o.names))
        for o in directory.offices()
        if can_see_office(directory, user, o.code)
    ]
    institutions = [
        (i.code, translated(i.name, i.names))
        for i in directory.institutions()
        if can_see_office(directory, user, i.district_office_code)
    ]
    return {
        "procedures": [(p, procedure_title(p, locale)) for p in procedures],
        "versions": sorted({int(d["version"]) for d in published}),
        "offices": sorted(offices, key=lambda o: o[1]),
        "institutions": sorted(institutions, key=lambda i: i[1]),
        "statuses": [(k, str(v)) for k, v in STATUS_WORDS.items()],
    }


@audit.get("/audit/")
@login_required
def search() -> Any:
    user = _auditor()
    locale = locale_code()
    params = {k: request.args.get(k, "").strip()[:200] for k in SEARCH_PARAMS}
    problems: dict[str, str] = {}
    query = search_query(user, params, problems)
    page = _page()
    query.offset, query.limit = (page - 1) * PAGE, PAGE + 1
    found, total = CaseSearch(_engine().db).search(query, cap=COUNT_CAP + 1)
    more = total > COUNT_CAP
    active = {k: v for k, v in params.items() if v}
    names = Names(locale)
    return render_template(
        "audit/search.html",
        rows=[hit_row(h, names) for h in found[:PAGE]],
        params=params,
        active=active,
        problems=problems,
        total=f"{COUNT_CAP}+" if more else total,
        page=page,
        pages=_pages(total, page, more),
        has_next=len(found) > PAGE and page < MAX_PAGE,
        page_url=lambda n: url_for("audit.search", page=n, **active),
        scope=office_name(_directory(), user.office_code, locale),
        **_choices(user, locale),
    )


# -- access log --------------------------------------------------------------------------------


def access_query(user: User, params: dict[str, str], problems: dict[str, str]) -> AccessQuery:
    scope = scope_of(user)
    query = AccessQuery(offices=scope)
    if params["login"]:
        query.login = params["login"][:100]
    if params["case"]:
        if params["case"].isdigit() and len(params["case"]) <= 18:
            query.instance_id = int(params["case"])
        else:
            problems["case"] = gettext("The case number is a whole number.")
    for key in ("from", "to"):
        if params[key] and _day(params[key]) is None:
            problems[key] = gettext("Format: DD.MM.YYYY, for example 24.11.2026.")
    start, end = _day(params["from"]), _day(params["to"])
    if start is not None:
        query.since = _start_of(start)
    if end is not None:
        query.before = _start_of(end + timedelta(days=1))
    query.refused = params["refused"] == "1"
    return query


def access_row(row: dict[str, Any], people: dict[str, str], names: Names) -> dict[str, Any]:
    users = current_app.extensions["nadzor.users"]
    login = row["login"]
    if login not in people:
        try:
            people[login] = users.get(login).name
        except Exception:  # an unknown login (anonymous, a deleted account)
            people[login] = ""
    return {
        "row": row,
        "at": local_time(row["at"], seconds=True),  # one a row: the seconds matter here
        "who": people[login],
        "office": names.office(row["office_code"]),
        "what": str(WHAT_WORDS.get(row["what"], row["what"])),
        "refused": row["status"] in (403, 404),
        "case_url": url_for("cases.case_page", instance_id=row["instance_id"])
        if row["instance_id"] and row["case_office"] is not None
        else None,
    }


def _access_page(user: User, query: AccessQuery, **extra: Any) -> Any:
    locale = locale_code()
    page = _page()
    query.offset, query.limit = (page - 1) * PAGE, PAGE + 1
    log = AccessLog(_engine().db)
    found = log.entries(query)
    total = log.count(query, cap=COUNT_CAP + 1)
    more = total > COUNT_CAP
    people: dict[str, str] = {}
    names = Names(locale)
    return {
        "rows": [access_row(r, people, names) for r in found[:PAGE]],
        "total": f"{COUNT_CAP}+" if more else total,
        "page": page,
        "pages": _pages(total, page, more),
        "has_next": len(found) > PAGE and page < MAX_PAGE,
        **extra,
    }


@audit.get("/audit/access")
@login_required
def access_list() -> Any:
    user = _auditor()
    params = {k: request.args.get(k, "").strip()[:200] for k in ACCESS_PARAMS}
    problems: dict[str, str] = {}
    query = access_query(user, params, problems)
    active = {k: v for k, v in params.items() if v}
    context = _access_page(
        user,
        query,
        params=params,
        active=active,
        problems=problems,
        case=None,
        page_url=lambda n: url_for("audit.access_list", page=n, **active),
    )
    return render_template("audit/access.html", **context)


@audit.get("/audit/cases/<case:instance_id>/access")
@login_required
def case_access(instance_id: int) -> Any:
    """Who read this case, and who was refused it (a section the trace page links to)."""
    record_access("access_log", instance_id)
    user = _auditor()
    try:
        view = _engine().runtime.get(instance_id) if instance_id <= 2**63 - 1 else None
    except NotFound:
        view = None
    if view is None:
        abort(404)
    if not can_see_office(_directory(), user, view.office_code):
        abort_page(Refusal("hidden", "case_missing", f"case {instance_id} does not exist"))
    params = {k: request.args.get(k, "").strip()[:200] for k in ACCESS_PARAMS}
    problems: dict[str, str] = {}
    query = access_query(user, {**params, "case": ""}, problems)
    query.instance_id = instance_id
    active = {k: v for k, v in params.items() if v and k != "case"}
    context = _access_page(
        user,
        query,
        params=params,
        active=active,
        problems=problems,
        case=view,
        procedure=procedure_title(view.process_id, locale_code()),
        trace_url=_trace_url(instance_id),
        page_url=lambda n: url_for("audit.case_access", instance_id=instance_id, page=n, **active),
    )
    return render_template("audit/access.html", **context)
