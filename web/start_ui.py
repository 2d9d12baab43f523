"""Start pages: a prosecutor opens a case of a procedure from its start form (e.g. registers an
NPM appeal). The form is the model's `start.form.json`; the institution is offered from the
user's scope, the user's office is the act's origin."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.errors import DataRejected, EngineError, NotFound, ValidationFailed
from workflows.catalogue import procedure_title
from workflows.scope import can_see_office

from .choices import with_body_choices
from .forms import FormField, coerce, data_rejected_text, fields_of, problem_texts, raw_values
from .i18n import locale_code, translated
from .ids import register_converters
from .messages import error_text
from .refusals import abort_page, rights

start_ui = Blueprint("start", __name__)
start_ui.record(register_converters)  # web/ids.py: impossible ids are 404 before a query


def _engine() -> Any:
    return current_app.extensions["nadzor.engine"]


def _startable() -> list[tuple[str, Any]]:
    """(process id, latest version) of every procedure that has a start form."""
    eng = _engine()
    out = []
    for process_id in sorted({d["process_id"] for d in eng.repository.list()}):
        definition = eng.repository.get(eng.repository.latest_id(process_id))
        if definition.start_form() is not None:
            out.append((process_id, definition))
    return out


def _require_starter() -> None:
    refusal = rights().may_start_any(current_user.user)
    if refusal is not None:
        abort_page(refusal)


def _require_scope(process_id: str) -> None:
    """The case's office (from the institution chosen) must be within the user's scope: the
    rule the API asks (workflows/rights.py), answered the same 403 before the form is read."""
    user = current_user.user
    chosen = {"institution": request.form.get("institution"), "origin_office": user.office_code}
    office = _engine().organization.case_office(chosen, process_id)
    refusal = rights().may_start(user, office)
    if refusal is not None:
        abort_page(refusal)


def _institutions() -> list[Any]:
    directory = current_app.extensions["nadzor.directory"]
    user = current_user.user
    return [
        i
        for i in directory.institutions()
        if can_see_office(directory, user, i.district_office_code)
    ]


def _with_choices(fields: list[FormField]) -> list[FormField]:
    """The institution field becomes a choice among the institutions the user supervises."""
    for f in fields:
        if f.key == "institution":
            f.type = "select"
            f.options = [
                {"value": i.code, "label": translated(i.name, i.names)} for i in _institutions()
            ]
        if f.key == "origin_office":
            f.readonly = True
    # the addressee of an act: a body of the directory (web/choices.py; the domain checks it)
    return with_body_choices(fields, current_app.extensions["nadzor.directory"])


@start_ui.get("/start")
@login_required
def start_list() -> Any:
    _require_starter()
    locale = locale_code()
    procedures = [(pid, procedure_title(pid, locale, d.title)) for pid, d in _startable()]
    return render_template("start/list.html", procedures=procedures)


@start_ui.route("/start/<procedure:process_id>", methods=["GET", "POST"])
@login_required
def start_page(process_id: str) -> Any:
    _require_starter()
    eng, user = _engine(), current_user.user
    try:
        definition = eng.repository.get(eng.repository.latest_id(process_id))
    except NotFound:
        abort(404)
    schema = definition.start_form()
    if schema is None:
        abort(404)
    fields = _with_choices(fields_of(schema, locale_code()))
    values: dict[str, Any] = {"origin_office": user.office_code}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        _require_scope(process_id)
        values = coerce(fields, request.form, request.files)  # files: multipart
        if "origin_office" in {f.key for f in fields}:
            values["origin_office"] = user.office_code
        status = 422
        try:  # the engine applies the start form's rules, as for every API call
            instance_id = eng.runtime.start(
                process_id, values, actor=user.login, office_code=user.office_code
            )
        except ValidationFailed as exc:
            errors = problem_texts(exc, fields)
        except DataRejected as exc:
            flash(data_rejected_text(exc), "error")
        except EngineError as exc:
            flash(error_text(exc), "error")
        else:
            flash(gettext("Case № %(id)s opened.", id=instance_id), "ok")
            return redirect(url_for("cases.case_page", instance_id=instance_id))
        values = {**raw_values(fields, request.form), "origin_office": user.office_code}
    return render_template(
        "start/form.html",
        process_id=process_id,
        title=procedure_title(process_id, locale_code(), definition.title),
        version=definition.version,
        fields=fields,
        values=values,
        errors=errors,
    ), status
