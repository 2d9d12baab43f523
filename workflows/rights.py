"""Who may do what with a case or a task: one rule for every door.

The pages, the REST API and the CLI ask these checks and answer what they say, so an action the
page refuses is refused by the API in the same words. Each check returns `None` when the action
is allowed, else a `Refusal` saying why in words (and how the door should answer):

- ``hidden`` (404): the case or task is outside the user's scope. It answers exactly as a missing
  one does, so that sequential ids cannot be probed; the door still records the denial.
- ``forbidden`` (403): the user sees it but may not do this.
- ``invalid`` (422): the request names someone or something that may not be used (e.g. a
  delegate who could not act on the task).
- ``conflict`` (409): the task's state stands in the way (claimed by another, no longer open).

The rules:

- read: a user holding a reading role (prosecutor, head, auditor) reads the cases and tasks of
  the offices within their scope (their office and the offices below it).
- work (claim, complete): the task's role in the task's office, or a head of that office.
- unclaim, delegate: as work, and the task is unclaimed or claimed by the user, unless the user
  is a head of the task's office (a head may take a task back from anyone).
- delegate target: an active user of the task's office who could complete the task themselves,
  i.e. holds the task's role or is a head of that office. A task is thus never handed to someone
  who cannot act on it (an auditor, a methodologist, another office), the invariant a mature
  tasklist keeps by assigning only among the task's candidate users. Heads are included because
  they may complete any task of their office.
- reassign (bulk): heads only, tasks of their own office only, each to a fitting delegate; all
  or nothing.
- start: a starting role (prosecutor, head), and the case's office within the user's scope.
- send a message to waiting cases (API): a case-working role (prosecutor, head) within the scope;
  so, with the rules above, nothing an auditor can do writes to a case.
- trace a case (the auditor's timeline, its verification and export): an auditor or a head,
  within their scope; verification of the whole history: auditors and administrators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.tasks import TaskView

from .organization import OrganizationDirectory
from .scope import CASE_ROLES, READ_ROLES, can_see_office
from .users import User

Kind = Literal["hidden", "forbidden", "invalid", "conflict"]
STATUS: dict[str, int] = {"hidden": 404, "forbidden": 403, "invalid": 422, "conflict": 409}
#: when a batch is refused for several reasons, the door answers with the gravest
GRAVITY: tuple[str, ...] = ("forbidden", "hidden", "conflict", "invalid")
#: who reads a case's trace, and who sees and runs the verification of the whole history
TRACE_ROLES = ("auditor", "head")
VERIFY_ROLES = ("auditor", "admin")
#: who keeps the procedures: reads every version, drafts, checks, tries and compares them
MODEL_ROLES = ("methodologist", "admin")
#: who publishes a version (a methodologist answers for the procedure's content and its basis)
PUBLISH_ROLES = ("methodologist",)
#: who mends failed cases: retries incidents, migrates cases to a fixed version, cancels a case
OPERATE_ROLES = ("methodologist", "admin")


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused: `code` names the rule (pages translate by it), `message` says it
    in English (API, logs), `params` fill both, `field` names the input at fault."""

    kind: Kind
    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    field: str | None = None
    task_id: str | None = None

    @property
    def status(self) -> int:
        return STATUS[self.kind]


def gravest(refusals: Iterable[Refusal]) -> Refusal | None:
    """The refusal a batch answers with (403 before 404 before 409 before 422)."""
    found = list(refusals)
    if not found:
        return None
    return min(found, key=lambda r: GRAVITY.index(r.kind))


def task_missing(task_id: str) -> Refusal:
    """A task that does not exist, worded as the engine words it (and as a hidden one)."""
    return Refusal(
        "hidden", "task_missing", f"task {task_id} does not exist", {"task": task_id}, None, task_id
    )


def case_missing(instance_id: int) -> Refusal:
    return Refusal(
        "hidden", "case_missing", f"case {instance_id} does not exist", {"case": instance_id}
    )


class Rights:
    """The checks, over the organization (scopes) and the users (delegates).

    `find_user` returns the account of a login or None; it is only asked for delegate targets.
    """

    def __init__(
        self, directory: OrganizationDirectory, find_user: Callable[[str], User | None]
    ) -> None:
        self.directory = directory
        self.find_user = find_user

    # -- reading ----------------------------------------------------------------------------

    def may_read_cases(self, user: User) -> Refusal | None:
        """The role part of reading, asked before any id is looked up (so a user without a
        reading role gets the same 403 for an existing and a missing id)."""
        if not user.has_role(*READ_ROLES):
            return Refusal(
                "forbidden",
                "no_read_role",
                "your roles do not include reading cases; ask an administrator if you need to",
            )
        return None

    def may_read_case(
        self, user: User, instance_id: int, office_code: str | None
    ) -> Refusal | None:
        refusal = self.may_read_cases(user)
        if refusal is None and not can_see_office(self.directory, user, office_code):
            return case_missing(instance_id)
        return refusal

    def may_read(self, user: User, task: TaskView) -> Refusal | None:
        refusal = self.may_read_cases(user)
        if refusal is None and not can_see_office(self.directory, user, task.office_code):
            return task_missing(task.task_guid)
        return refusal

    # -- working on a task ------------------------------------------------------------------

    @staticmethod
    def is_head_of(user: User, office_code: str | None) -> bool:
        return user.has_role("head") and office_code is not None and user.office_code == office_code

    @staticmethod
    def could_work_on(user: User, task: TaskView) -> bool:
        """The task's role in the task's office, or a head of that office; active, and holding a
        role that works cases (so no model could route a task to auditors or methodologists)."""
        return (
            user.active
            and user.has_role(*CASE_ROLES)
            and task.office_code is not None
            and user.office_code == task.office_code
            and user.has_role(task.role or "", "head")
        )

    def _worker(self, user: User, task: TaskView) -> Refusal | None:
        refusal = self.may_read(user, task)
        if refusal is not None:
            return refusal
        if not self.could_work_on(user, task):
            return Refusal(
                "forbidden",
                "not_your_task",
                f"task {task.task_guid} is for the role {task.role} of office {task.office_code}"
                "; you may read it but not act on it",
                {"role": task.role, "office": task.office_code},
                task_id=task.task_guid,
            )
        return None

    @staticmethod
    def _claimed_by_other(user: User, task: TaskView, action: str) -> Refusal | None:
        if task.assignee is None or task.assignee == user.login:
            return None
        return Refusal(
            "forbidden",
            "claimed_by_other",
            f"task '{task.title}' is claimed by {task.assignee}; only they or a head of office "
            f"{task.office_code} may {action} it",
            {"title": task.title, "who": task.assignee, "office": task.office_code},
            task_id=task.task_guid,
        )

    def may_claim(self, user: User, task: TaskView) -> Refusal | None:
        refusal = self._worker(user, task)
        if refusal is None and task.assignee not in (None, user.login):
            return Refusal(
                "conflict",
                "already_claimed",
                f"task '{task.title}' is already claimed by {task.assignee}",
                {"title": task.title, "who": task.assignee},
                task_id=task.task_guid,
            )
        return refusal

    def may_unclaim(self, user: User, task: TaskView) -> Refusal | None:
        refusal = self._worker(user, task)
        if refusal is None and not self.is_head_of(user, task.office_code):
            refusal = self._claimed_by_other(user, task, "release")
        return refusal

    def may_complete(self, user: User, task: TaskView) -> Refusal | None:
        """Role and office. Whether the task is claimed by someone else is checked by the
        engine under the case's lock (409), where it cannot be overtaken."""
        return self._worker(user, task)

    def may_delegate(self, user: User, task: TaskView, to: Any) -> Refusal | None:
        refusal = self._worker(user, task)
        if refusal is None and not self.is_head_of(user, task.office_code):
            refusal = self._claimed_by_other(user, task, "hand over")
        return refusal or self.may_take(to, task)

    def may_take(self, to: Any, task: TaskView) -> Refusal | None:
        """Whether `to` (a login) may be handed the task: only someone who could complete it."""
        if not isinstance(to, str) or not to.strip():
            return Refusal(
                "invalid",
                "delegate_missing",
                "name the colleague to hand the task to",
                field="to",
                task_id=task.task_guid,
            )
        target = self.find_user(to)
        if target is None or not target.active:
            return Refusal(
                "invalid",
                "delegate_unknown",
                f"there is no active user '{to}'; choose a colleague of office {task.office_code}",
                {"who": to, "office": task.office_code},
                field="to",
                task_id=task.task_guid,
            )
        if not self.could_work_on(target, task):
            return Refusal(
                "invalid",
                "delegate_unfit",
                f"{to} could not act on task '{task.title}': it needs the role {task.role} "
                f"(or head) in office {task.office_code}; choose someone who holds it",
                {
                    "who": target.name,
                    "title": task.title,
                    "role": task.role,
                    "office": task.office_code,
                },
                field="to",
                task_id=task.task_guid,
            )
        return None

    def may_reassign(
        self, user: User, tasks: Mapping[str, TaskView | None], to: Any
    ) -> list[Refusal]:
        """Every reason the batch cannot be reassigned (empty: all of it may be).

        `tasks` maps each requested id to its task, or None when there is no such task.
        """
        if not user.has_role("head"):
            return [
                Refusal(
                    "forbidden",
                    "not_head",
                    "only a head of office reassigns tasks in bulk",
                )
            ]
        if not tasks:
            return [Refusal("invalid", "no_tasks", "choose the tasks to reassign", field="tasks")]
        refusals: list[Refusal] = []
        for guid, task in tasks.items():
            if task is None or self.may_read(user, task) is not None:
                refusals.append(task_missing(guid))
                continue
            if task.office_code != user.office_code:
                refusals.append(
                    Refusal(
                        "forbidden",
                        "other_office",
                        f"task '{task.title}' belongs to office {task.office_code}; "
                        "a head reassigns the tasks of their own office",
                        {"title": task.title, "office": task.office_code},
                        task_id=guid,
                    )
                )
                continue
            if task.state != "ready":
                refusals.append(
                    Refusal(
                        "conflict",
                        "not_open",
                        f"task '{task.title}' is no longer open ({task.state})",
                        {"title": task.title},
                        task_id=guid,
                    )
                )
                continue
            unfit = self.may_take(to, task)
            if unfit is not None:
                refusals.append(unfit)
        return refusals

    # -- messages and the auditor's views ---------------------------------------------------

    def may_trace(self, user: User, instance_id: int, office_code: str | None) -> Refusal | None:
        """The trace shows every event, hash and deadline of a case: auditors and heads, within
        their scope (out of scope: the same 404 as a missing case)."""
        if not user.has_role(*TRACE_ROLES):
            return Refusal(
                "forbidden",
                "no_trace_role",
                "only auditors and heads of office read a case's trace",
            )
        if not can_see_office(self.directory, user, office_code):
            return case_missing(instance_id)
        return None

    def may_see_verification(self, user: User) -> Refusal | None:
        """The whole history's verification (results and checkpoints, no case data)."""
        if not user.has_role(*VERIFY_ROLES):
            return Refusal(
                "forbidden",
                "no_verify_role",
                "only auditors and administrators see and run the history's verification",
            )
        return None

    def may_set_report_term(self, user: User, office_code: str) -> Refusal | None:
        """The districts' term for their quarterly information is the regional prosecutor's
        to set (¶13.17): a head of that office, or an administrator."""
        if user.has_role("admin") or (user.active and self.is_head_of(user, office_code)):
            return None
        return Refusal(
            "forbidden",
            "no_term_role",
            "only a head of the regional office (or an administrator) sets its districts' term",
            {"office": office_code},
        )

    # -- procedures: models, versions, failed cases -----------------------------------------

    def may_manage_models(self, user: User) -> Refusal | None:
        """The Procedures area (versions, drafts, check, try, diff): methodologists and admins.
        The models hold no case data, so no office scope applies."""
        if user.active and user.has_role(*MODEL_ROLES):
            return None
        return Refusal(
            "forbidden",
            "no_model_role",
            "only methodologists and administrators work on the procedures' models",
        )

    def may_publish(self, user: User) -> Refusal | None:
        """A new version takes effect in every office at once: an active methodologist only,
        whichever door (page, CLI) it comes through."""
        if user.active and user.has_role(*PUBLISH_ROLES):
            return None
        return Refusal(
            "forbidden",
            "no_publish_role",
            "only a methodologist publishes a version of a procedure",
        )

    def may_operate(self, user: User) -> Refusal | None:
        """Retry an incident, migrate cases to another version, cancel a failed case: these
        change running cases of every office, so methodologists and admins only."""
        if user.active and user.has_role(*OPERATE_ROLES):
            return None
        return Refusal(
            "forbidden",
            "no_operate_role",
            "only methodologists and administrators retry, migrate or cancel failed cases",
        )

    # -- starting a case --------------------------------------------------------------------

    def may_start_any(self, user: User) -> Refusal | None:
        if not user.has_role(*CASE_ROLES):
            return Refusal(
                "forbidden",
                "no_start_role",
                "only prosecutors and heads open cases",
            )
        return None

    def may_start(self, user: User, office_code: str | None) -> Refusal | None:
        """A starting role, and the case's office (from its institution or office of origin)
        within the user's scope."""
        refusal = self.may_start_any(user)
        if refusal is None and not can_see_office(self.directory, user, office_code):
            return Refusal(
                "forbidden",
                "office_out_of_scope",
                f"office {office_code} is outside your office's scope; "
                "open the case for an institution your office supervises",
                {"office": office_code},
                field="institution",
            )
        return refusal
