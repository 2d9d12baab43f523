"""Models drawn in other BPMN tools: what they write that our engine reads differently.

Camunda Modeler, Signavio and bpmn.io write models for engines that speak other expression
languages. Our engine (SpiffWorkflow 3.2 under engine/safety) evaluates every condition, timer
and decision cell as a **Python expression**. Three things follow, each handled here so that a
methodologist importing such a model gets either a working model or a refusal in words:

* **ISO 8601 timer literals** (`P7D`, `PT24H`, `R3/PT24H`, `2026-12-31T10:00:00+05:00`) are
  what every tool writes in a timer; read as Python they are names (`P7D`), arithmetic
  (`2026-12-31` is 1983) or syntax errors. `normalize_timer_literals` quotes them in a copy of
  the tree the parser reads; the stored file keeps what was written. A date or cycle start
  without an offset is read in Asia/Almaty, as the engine reads every instant without an offset
  (engine/calendar.py `parse_instant`), never in the server's zone. (A procedure's calendar, a
  timer start event, is checked as written by engine/schedules.py, which asks for the offset.)
  A cycle on a task or in the flow repeats (engine/step.py re-arms its timer row after each
  firing); on an interrupting boundary event it is its first occurrence, as BPMN fires it once.
* **FEEL** (`=amount > 100`, Camunda 8; DMN cells like `"a","b"` or `[1..10]`) and **JUEL**
  (`${amount > 100}`, Camunda 7), script tasks in JavaScript or Groovy, Java delegates,
  `camunda:decisionRef`, tasks splitting flows without a gateway, and files without an
  executable process are refused by `check_dialect`, naming file, line, element id and name,
  with the Python rewrite when the expression is a plain comparison.
* **Parser messages** (SpiffWorkflow's `ValidationException`, the XSD validator) come as raw
  reprs and XML-schema jargon; `clean_parser_error` says them in words.

The repository calls these while parsing (engine/repository.py `parse_files`); the signatures
are a contract between helpers.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from datetime import datetime

from lxml import etree

from .calendar import ALMATY
from .errors import ModelError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)
_NS_NAMES = {
    BPMN_NS: "bpmn",
    SPIFF_NS: "spiffworkflow",
    CAMUNDA_NS: "camunda",
    ZEEBE_NS: "zeebe",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
    "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    **{ns: "dmn" for ns in DMN_NAMESPACES},
}

TIMER_TAGS = {
    f"{{{BPMN_NS}}}timeDuration": "timeDuration",
    f"{{{BPMN_NS}}}timeDate": "timeDate",
    f"{{{BPMN_NS}}}timeCycle": "timeCycle",
}
#: what a timer element's value must be, said to the person who wrote it
_TIMER_WANTS = {
    "timeDuration": "a duration such as P7D or PT24H",
    "timeDate": "a date and time such as 2026-12-31T10:00:00+05:00",
    "timeCycle": "a repeating interval such as R3/PT24H or R/2026-01-01T00:00:00+05:00/P1D",
}
#: the forms of the Python condition language (SpiffWorkflow's own element and attribute)
PYTHON_LANGUAGES = frozenset({"", "python", "python3", "py", "text/x-python"})
#: elements that may have several outgoing sequence flows in SpiffWorkflow 3.2 (the others
#: are refused there with "Multiple outgoing flows are not supported for tasks of type")
_SPLITTING = frozenset(
    {
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "complexGateway",
        "eventBasedGateway",
        "startEvent",
    }
)
#: flow nodes: the elements a methodologist sees drawn and names
_FLOW_NODES = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        *_SPLITTING,
    }
)
_TYPE_WORDS = {
    "task": "task",
    "userTask": "user task",
    "manualTask": "manual task",
    "scriptTask": "script task",
    "serviceTask": "service task",
    "sendTask": "send task",
    "receiveTask": "receive task",
    "businessRuleTask": "business rule task",
    "callActivity": "call activity",
    "subProcess": "subprocess",
    "transaction": "transaction",
    "adHocSubProcess": "ad hoc subprocess",
    "endEvent": "end event",
    "intermediateCatchEvent": "intermediate catch event",
    "intermediateThrowEvent": "intermediate throw event",
    "boundaryEvent": "boundary event",
    "sequenceFlow": "sequence flow",
    "startEvent": "start event",
    "exclusiveGateway": "exclusive gateway",
    "inclusiveGateway": "inclusive gateway",
    "parallelGateway": "parallel gateway",
    "complexGateway": "complex gateway",
    "eventBasedGateway": "event-based gateway",
    "process": "process",
}

# -- ISO 8601 literals ---------------------------------------------------------------------------

_NUM = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"P(?=\d|T\d)(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
#: text that was meant as an ISO literal but is not one (`P7X`, `R3-PT24H`, `2026-13-45`)
_LOOKS_ISO = re.compile(r"(?:P\d|PT\d|R\d*/|\d{4}-\d)", re.IGNORECASE)
#: a cron expression (Camunda 8 accepts them in a timeCycle)
_CRON_FIELD = r"[\d*?/,LW#A-Za-z-]+"
_CRON = re.compile(rf"(?:{_CRON_FIELD}\s+){{4,6}}{_CRON_FIELD}")
_CRON_NUMERIC = re.compile(r"[\d*?/,-]+")


def _date_literal(text: str) -> str | None:
    """An ISO date or date-time as an aware ISO text (Almaty when no offset); None: not one."""
    if not _DATE.fullmatch(text):
        return None
    try:
        value = datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return None
    if value.tzinfo is None:
        # the engine reads an instant without offset in Almaty (engine/calendar.py), never in
        # the server's zone as SpiffWorkflow would
        value = value.replace(tzinfo=ALMATY)
    return value.isoformat()


def _duration_literal(text: str) -> str | None:
    if not _DURATION.fullmatch(text.upper()) or text.upper() in ("P", "PT"):
        return None
    return text.upper().replace(",", ".")


def _cycle_literal(text: str) -> str | None:
    """`R[n]/<duration>`, `R[n]/<start>/<duration>`, `R[n]/<duration>/<end>`; None: not one."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not re.fullmatch(r"R\d*", parts[0], re.IGNORECASE):
        return None
    out = [parts[0].upper()]
    for part in parts[1:]:
        value = _duration_literal(part) or _date_literal(part)
        if value is None:
            return None
        out.append(value)
    durations = sum(1 for p in out[1:] if p.startswith("P"))
    if durations != 1:
        return None  # two dates or two durations: not an interval SpiffWorkflow computes
    return "/".join(out)


def iso_literal(text: str) -> tuple[str, str] | None:
    """A bare ISO 8601 timer literal as (kind, normalized text), kind one of `duration`,
    `date`, `cycle`; None when the text is not one (an expression, a quoted string)."""
    text = text.strip()
    for kind, reader in (
        ("duration", _duration_literal),
        ("date", _date_literal),
        ("cycle", _cycle_literal),
    ):
        value = reader(text)
        if value is not None:
            return kind, value
    return None


def _quoted_string(text: str) -> str | None:
    """The value of a text that is a single quoted Python string (`"PT1H"`), else None."""
    text = text.strip()
    if text[:1] not in ("'", '"'):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _naive(text: str) -> bool:
    """Whether a date, or a cycle's date, is written without an offset (`2026-12-31T18:00`)."""
    for part in text.strip().split("/"):
        match = _DATE.fullmatch(part)
        if match and not re.search(r"(?:Z|[+-]\d{2}(?::?\d{2})?)$", part[10:]):
            return True
    return False


_KIND_OF_TAG = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}


def normalize_timer_literals(tree: etree._ElementTree) -> etree._ElementTree:
    """A copy of the tree for the parser in which bare ISO 8601 timer literals (`P7D`,
    `R3/PT24H`, a date) are quoted Python strings; the stored file keeps what was written.

    A date (or a cycle's start) without an offset becomes Almaty time with its offset, quoted
    or not: SpiffWorkflow would read it in the server's zone. Anything else (an expression such
    as `f"PT{hours}H"` or `answer_due`) is left as written."""
    copied = copy.deepcopy(tree)
    for tag in TIMER_TAGS:
        for element in copied.iter(tag):
            text = (element.text or "").strip()
            if not text:
                continue
            literal = iso_literal(text)
            if literal is None:
                quoted = _quoted_string(text)
                if quoted is None:
                    continue
                literal = iso_literal(quoted)
                if literal is None:
                    continue
                as_written = literal[0] == "duration" or not _naive(quoted)
                if as_written and not (literal[0] == "cycle" and _interrupting(element)):
                    continue  # "PT1H" and other quoted texts: already what the engine reads
            if literal[0] == "cycle" and _interrupting(element):
                tag, literal = _first_occurrence(literal[1])
                element.tag = f"{{{BPMN_NS}}}{tag}"
            element.text = json.dumps(literal[1])
    return copied


def _interrupting(timer: etree._Element) -> bool:
    """Whether a timer text belongs to an interrupting boundary event (cancelActivity is true
    unless written false)."""
    owner = _owner(timer)
    return _local(owner.tag) == "boundaryEvent" and owner.get("cancelActivity") != "false"


def _first_occurrence(cycle: str) -> tuple[str, tuple[str, str]]:
    """An interrupting timer's cycle as the single timer it is: the tag and literal of its
    first occurrence.

    BPMN: an interrupting event ends its activity, so a cycle on it can fire only once.
    SpiffWorkflow instead runs the event's path at each occurrence without interrupting and
    cancels the activity only after the last (R3/PT24H: three reminders, then the task
    cancelled on the fourth day); with the first occurrence alone it fires once and interrupts.
    `R3/PT24H` -> timeDuration PT24H; `R/<start>/P1D` -> timeDate <start>;
    `R/P1D/<end>` -> timeDate <end minus P1D> (as SpiffWorkflow computes the start).
    """
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition as Timer

    parts = cycle.split("/")
    if len(parts) == 2:
        return "timeDuration", ("duration", parts[1])
    if not parts[1].startswith("P"):
        return "timeDate", ("date", parts[1])
    end = datetime.fromisoformat(parts[2])
    start = end - Timer.get_timedelta_from_end(Timer.parse_iso_duration(parts[1]), end)
    return "timeDate", ("date", start.isoformat())


# -- where an element is, in words ---------------------------------------------------------------


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _owner(element: etree._Element) -> etree._Element:
    """The drawn element an inner element belongs to: a timer's event, a condition's flow."""
    node: etree._Element | None = element
    while node is not None:
        local = _local(node.tag)
        if (
            node.get("id")
            and not local.endswith("EventDefinition")
            and local not in ("conditionExpression", "extensionElements")
        ):
            return node
        node = node.getparent()
    return element


def element_name(tree: etree._ElementTree | None, element_id: str | None) -> str | None:
    """The name an element carries in the diagram (None: none, or no such element).

    An element without a name of its own that belongs to a drawn one (a timer definition, a
    condition) gives the drawn element's name; a nameless sequence flow gives None."""
    if tree is None or not element_id:
        return None
    found = tree.getroot().xpath("//*[@id=$eid]", eid=element_id)
    if not found:
        return None
    element = found[0]
    name = (element.get("name") or "").strip()
    if name:
        return name
    owner = _owner(element.getparent()) if element.getparent() is not None else None
    local = _local(element.tag)
    if owner is not None and local not in _FLOW_NODES and local != "sequenceFlow":
        return (owner.get("name") or "").strip() or None
    return None


def _refuse(element: etree._Element, filename: str, message: str) -> ModelError:
    owner = _owner(element)
    return ModelError(
        message,
        filename=filename,
        line=element.sourceline,
        element_id=owner.get("id"),
        element_name=(owner.get("name") or "").strip() or None,
    )


def _flow_words(flow: etree._Element, ids: dict[str, etree._Element]) -> str:
    """`the flow from 'Check' to 'Register'` (names as drawn, else ids)."""

    def label(ref: str | None) -> str:
        node = ids.get(ref or "")
        return (node.get("name") if node is not None else None) or ref or "?"

    return f"the flow from '{label(flow.get('sourceRef'))}' to '{label(flow.get('targetRef'))}'"


# -- rewriting FEEL and JUEL into Python ---------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<num>\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
      | (?P<op>&&|\|\||==|!=|<=|>=|<>|<|>|!|=|\(|\)|\+|-|\*|/|%|\.|,|\[|\]|\?|:)
    )""",
    re.VERBOSE,
)
_WORD_OPS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "true": "True",
    "false": "False",
    "null": "None",
    "and": "and",
    "or": "or",
    "not": "not",
}
_PLAIN_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
)


def python_rewrite(expression: str, *, feel: bool) -> str | None:
    """The Python for a FEEL or JUEL expression that is a plain comparison or boolean test
    (`amount > 100`, `status == 'open'`, `a && b`, `!approved`, FEEL `x = "y"`); None when it
    is anything more (a call, a path `order.amount`, JUEL `empty`, a FEEL range)."""
    pos, out = 0, []
    text = expression.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            return None
        pos = match.end()
        kind = match.lastgroup
        token = match.group(kind or 0)
        if kind == "name":
            lowered = token.lower()
            if lowered in _WORD_OPS and (
                lowered not in ("eq", "ne", "lt", "gt", "le", "ge") or not feel
            ):
                token = _WORD_OPS[lowered]
            elif lowered in ("empty", "instanceof", "div", "mod"):
                return None
        elif kind == "op":
            if token in (".", "[", "]", "?", ":", ","):
                return None  # paths, indexing, ternaries, lists: not a plain comparison
            token = {"&&": "and", "||": "or", "!": "not", "<>": "!="}.get(token, token)
            if token == "=":
                if not feel:
                    return None  # JUEL has no single '=': an assignment is no condition
                token = "=="
        out.append(token)
    if not out:
        return None
    rewritten = " ".join(out).replace("( ", "(").replace(" )", ")")
    try:
        parsed = ast.parse(rewritten, mode="eval")
    except SyntaxError:
        return None
    if not all(isinstance(node, _PLAIN_NODES) for node in ast.walk(parsed)):
        return None
    for node in ast.walk(parsed):
        if isinstance(node, ast.Call):
            return None
    return rewritten


def _juel_body(text: str) -> str | None:
    """The inside of a whole-text JUEL expression `${…}` / `#{…}`; None: not one."""
    match = re.fullmatch(r"\s*[$#]\{(.*)\}\s*", text, re.DOTALL)
    if match is None or "${" in match.group(1) or "#{" in match.group(1):
        return None
    return match.group(1)


def _is_python(text: str) -> bool:
    """Whether the text parses as a Python expression (`f"{a}${b}"` holds `${` and is one)."""
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def _dialect_of(text: str) -> tuple[str, str | None] | None:
    """('JUEL'|'FEEL', the Python rewrite or None) for a foreign expression; None: not one."""
    stripped = text.strip()
    if stripped.startswith(("${", "#{")) or (
        ("${" in stripped or "#{" in stripped) and not _is_python(stripped)
    ):
        body = _juel_body(stripped)
        return "JUEL", python_rewrite(body, feel=False) if body is not None else None
    if stripped.startswith("=") and not stripped.startswith("=="):
        return "FEEL", python_rewrite(stripped[1:], feel=True)
    return None


_LANGUAGE_WORDS = {
    "JUEL": "JUEL (the expression language of Camunda 7)",
    "FEEL": "FEEL (the expression language of Camunda 8 and DMN)",
}


def _condition_problem(text: str, where: str) -> str | None:
    found = _dialect_of(text)
    if found is None:
        return None
    dialect, rewrite = found
    head = (
        f"the condition {text.strip()} of {where} is written in {_LANGUAGE_WORDS[dialect]}; "
        "conditions in this engine are Python expressions over the case data"
    )
    if rewrite:
        return f"{head}. Write it as: {rewrite}"
    return (
        f"{head}. Rewrite it in Python, for example amount > 100 and status == 'open' "
        "(and, or, not; True, False, None; names are the keys of the case data)."
    )


def _cycle_problem(timer: etree._Element) -> str | None:
    """Words for a timeCycle on a task or in the flow that would not run as drawn.

    `R0/…` never fires (SpiffWorkflow would end the wait at once). On an interrupting boundary
    event the cycle's first occurrence is the timer (`normalize_timer_literals`); a cycle
    written as an expression cannot be read before the case runs, so it is refused there."""
    text = (timer.text or "").strip()
    literal = iso_literal(text) or iso_literal(_quoted_string(text) or "")
    written = f"timeCycle {text}"
    if literal is not None:
        if re.match(r"R0+/", literal[1]):
            return (
                f"the {written} repeats zero times, so the timer would never wait. Write how "
                "many times it repeats (R3/PT24H), R/PT24H for every day until the task ends, "
                "or remove the timer"
            )
        return None
    if _interrupting(timer):
        return (
            f"the {written} is an expression on an interrupting timer; an interrupting timer "
            "fires once, so write a single timer (timeDuration, e.g. PT24H) or the cycle as a "
            "literal (R3/PT24H)"
        )
    return None


def _timer_problem(text: str, kind: str) -> str | None:
    """Words for a timer text the engine would misread or fail on at run time."""
    wants = _TIMER_WANTS[kind]
    found = _dialect_of(text)
    if found is not None:
        dialect, rewrite = found
        body = _juel_body(text) if dialect == "JUEL" else text.strip()[1:]
        inner = _quoted_string(body or "") if body else None
        if inner is not None and iso_literal(inner) is not None:
            rewrite = inner  # ="P7D" / ${"PT1H"}: the literal itself
        elif body and (
            call := re.fullmatch(r"\s*(?:duration|date and time|date)\((.*)\)\s*", body)
        ):
            inner = _quoted_string(call.group(1))
            rewrite = inner if inner is not None and iso_literal(inner) else rewrite
        head = (
            f"the {kind} {text.strip()} is written in {_LANGUAGE_WORDS[dialect]}; a timer here "
            f"is an ISO 8601 literal ({wants}) or a Python expression over the case data"
        )
        return f"{head}. Write it as: {rewrite}" if rewrite else f"{head}. Rewrite it so."
    stripped = text.strip()
    literal = iso_literal(stripped)
    quoted = _quoted_string(stripped)
    if literal is None and quoted is not None:
        literal = iso_literal(quoted)
        if literal is None and _LOOKS_ISO.match(quoted.strip()):
            return f'the {kind} "{quoted}" is not a valid ISO 8601 value; write {wants}'
    if literal is not None:
        if literal[0] != _KIND_OF_TAG[kind]:
            right = {"duration": "timeDuration", "date": "timeDate", "cycle": "timeCycle"}
            return (
                f"the {kind} {stripped} is a {literal[0]}, but a {kind} needs {wants}: move "
                f"the value to a {right[literal[0]]} (in the modeler: the timer's type) or "
                f"write {wants}"
            )
        return None
    cron_fields = stripped.split()
    if (
        kind == "timeCycle"
        and _CRON.fullmatch(stripped)
        and sum(1 for f in cron_fields if _CRON_NUMERIC.fullmatch(f)) >= 3
    ):
        return (
            f"the timeCycle {stripped} is a cron expression, which this engine does not read; "
            f"write {wants}"
        )
    if _LOOKS_ISO.match(stripped) and re.fullmatch(r"[\w:+\-/.,]+", stripped):
        return f"the {kind} {stripped} is not a valid ISO 8601 value; write {wants}"
    return None


# -- DMN cells ---------------------------------------------------------------------------------

_FEEL_RANGE = re.compile(r"\s*([\[\](])\s*([^.\s]+)\s*\.\.\s*([^\s\])[]+)\s*([\[\])])\s*")


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside quotes and brackets."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def _dmn_entry_problem(text: str) -> str | None:
    """Words (with the Python) for a FEEL unary test in a DMN input cell; None: it is ours."""
    stripped = text.strip()
    head = (
        f"the input entry {stripped} is a FEEL test (Camunda's decision language); this "
        "engine's decision tables are Python, with ? standing for the column's input"
    )
    if "${" in stripped or "#{" in stripped:
        return f"{head}. Rewrite it in Python, e.g. ? > 100"
    if "?" in stripped:
        return None  # our own form, `? in (…)`
    if stripped.startswith("not(") and stripped.endswith(")"):
        inner = _split_top_level(stripped[4:-1])
        if len(inner) == 1:
            return f"{head}. Write it as: ? != {inner[0]}"
        return f"{head}. Write it as: ? not in ({', '.join(inner)})"
    range_match = _FEEL_RANGE.fullmatch(stripped)
    if range_match:
        opening, low, high, closing = range_match.groups()
        low_op = "<=" if opening == "[" else "<"
        high_op = "<=" if closing == "]" else "<"
        return f"{head}. Write it as: {low} {low_op} ? {high_op} {high}"
    parts = _split_top_level(stripped)
    if len(parts) > 1 and all(parts):
        return f"{head}. Write it as: ? in ({', '.join(parts)})"
    if re.search(r"\b(?:date and time|date|time|duration)\(", stripped):
        return (
            f"{head}. Compare ISO texts or use the engine's date functions, e.g. "
            '? < "2026-12-31T00:00:00+05:00"'
        )
    return None


def _dmn_cell_problem(text: str, what: str) -> str | None:
    found = _dialect_of(text)
    if found is None:
        return None
    dialect, rewrite = found
    head = (
        f"the {what} {text.strip()} is written in {_LANGUAGE_WORDS[dialect]}; this engine's "
        "decision tables are Python expressions over the case data"
    )
    return f"{head}. Write it as: {rewrite}" if rewrite else f"{head}. Rewrite it in Python."


def _refuse_cell(
    at: etree._Element, cell: etree._Element, filename: str, message: str
) -> ModelError:
    """A decision cell located as a methodologist finds it: the rule (or input column) and
    its number in the decision table, e.g. "Answer term, rule 1"."""
    row = cell.getparent()
    decision = row.getparent() if row is not None else None
    while decision is not None and _local(decision.tag) != "decision":
        decision = decision.getparent()
    table = (decision.get("name") or decision.get("id")) if decision is not None else None
    element_id, label = cell.get("id"), None
    if row is not None and _local(row.tag) in ("rule", "input"):
        siblings = [e for e in row.itersiblings(preceding=True) if e.tag == row.tag]
        element_id = row.get("id") or element_id
        label = f"{_local(row.tag)} {len(siblings) + 1}"
        if _local(row.tag) == "input" and row.get("label"):
            label = f"input '{row.get('label')}'"
    named = ", ".join(x for x in (table, label) if x) or None
    return ModelError(
        message, filename=filename, line=at.sourceline, element_id=element_id, element_name=named
    )


def _check_dmn(tree: etree._ElementTree, filename: str) -> None:
    root = tree.getroot()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        language = (element.get("expressionLanguage") or "").strip()
        if (
            language
            and language.lower() not in PYTHON_LANGUAGES
            and "python" not in language.lower()
        ):
            raise _refuse(
                element,
                filename,
                f'the decision uses expressionLanguage="{language}"; this engine evaluates '
                "decision tables as Python expressions. Remove the attribute (or write "
                '"python") and write the cells in Python.',
            )
    for ns in DMN_NAMESPACES:
        decisions = list(root.iter(f"{{{ns}}}decision"))
        for decision in decisions:
            if decision.find(f"{{{ns}}}decisionTable") is None:
                raise _refuse(
                    decision,
                    filename,
                    "this decision is not a decision table (a literal expression or a "
                    "requirement graph): the engine evaluates decision tables only. Draw it "
                    "as a decision table.",
                )
        if len(decisions) > 1:
            raise _refuse(
                decisions[1],
                filename,
                f"the file holds {len(decisions)} decisions; the engine reads one decision "
                "table per DMN file. Put each decision in a file of its own.",
            )
        for tag, what in (
            ("inputExpression", "input expression"),
            ("inputEntry", "input entry"),
            ("outputEntry", "output entry"),
        ):
            for cell in root.iter(f"{{{ns}}}{tag}"):
                text_el = cell.find(f"{{{ns}}}text")
                text = (text_el.text or "").strip() if text_el is not None else ""
                if not text:
                    continue
                at = text_el if text_el is not None else cell
                problem = (_dmn_entry_problem(text) if tag == "inputEntry" else None) or (
                    _dmn_cell_problem(text, what)
                )
                if problem:
                    raise _refuse_cell(at, cell, filename, problem)


# -- the BPMN checks ---------------------------------------------------------------------------


def _words(element: etree._Element) -> str:
    kind = _TYPE_WORDS.get(_local(element.tag), _local(element.tag))
    name = (element.get("name") or "").strip() or element.get("id")
    return f"{kind} '{name}'" if name else kind


_DELEGATES = {
    f"{{{CAMUNDA_NS}}}class": "a Java class (camunda:class)",
    f"{{{CAMUNDA_NS}}}delegateExpression": "a Java delegate (camunda:delegateExpression)",
    f"{{{CAMUNDA_NS}}}expression": "a JUEL expression (camunda:expression)",
}


def executable_problem(tree: etree._ElementTree, filename: str) -> ModelError | None:
    """The refusal of a BPMN file none of whose processes is marked executable (None: one is).

    Camunda Modeler and bpmn.io write isExecutable="false" unless told otherwise, Signavio
    leaves it out; SpiffWorkflow would take a missing attribute for "true", but a methodologist
    who drew a model for documentation did not mean it to run, so it is refused, naming the
    process (the one with the most elements, when a collaboration has several pools)."""
    processes = list(tree.getroot().iter(f"{{{BPMN_NS}}}process"))
    if not processes or any(p.get("isExecutable") == "true" for p in processes):
        return None
    process = max(processes, key=len)
    written = process.get("isExecutable")
    said = (
        f'is marked isExecutable="{written}"'
        if written is not None
        else "does not say it is executable (no isExecutable attribute)"
    )
    return _refuse(
        process,
        filename,
        f"the {_words(process)} {said}, so there is nothing this engine may run. Mark "
        'the process executable: in the modeler tick "Executable" in the process\'s '
        'properties, or write isExecutable="true" on <bpmn:process>.',
    )


def _check_bpmn(tree: etree._ElementTree, filename: str) -> None:
    root = tree.getroot()
    ids = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    problem = executable_problem(tree, filename)
    if problem is not None:
        raise problem
    outgoing: dict[str, list[etree._Element]] = {}
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        outgoing.setdefault(flow.get("sourceRef") or "", []).append(flow)

    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        local = _local(element.tag)
        namespace = etree.QName(element.tag).namespace
        if namespace != BPMN_NS:
            if namespace == CAMUNDA_NS and local in ("executionListener", "taskListener"):
                raise _refuse(
                    element,
                    filename,
                    f"a Camunda {local} is attached here; this engine does not run "
                    "listeners. Put what it does in a script task, or in the task's "
                    "pre-script or post-script (Python).",
                )
            if namespace == ZEEBE_NS and local == "taskDefinition":
                raise _refuse(
                    element,
                    filename,
                    "this task is done by a Camunda 8 job worker (zeebe:taskDefinition), "
                    "which this engine does not have. Make it a script task (Python) or a "
                    "service task calling one of the engine's services.",
                )
            if namespace == ZEEBE_NS and local == "calledDecision":
                decision = element.get("decisionId") or "…"
                raise _refuse(
                    element,
                    filename,
                    "the decision is named the Camunda 8 way (zeebe:calledDecision); name it "
                    "the way this engine reads: <spiffworkflow:calledDecisionId>"
                    f"{decision}</spiffworkflow:calledDecisionId> in the task's extension "
                    "elements (in our editor: the task's decision field).",
                )
            if namespace == ZEEBE_NS and local == "calledElement":
                called = element.get("processId") or "…"
                raise _refuse(
                    element,
                    filename,
                    "the called process is named the Camunda 8 way (zeebe:calledElement); "
                    f'write calledElement="{called}" on the call activity (in our editor: '
                    "the called procedure field).",
                )
            continue
        for attribute, what in _DELEGATES.items():
            if element.get(attribute) is not None:
                raise _refuse(
                    element,
                    filename,
                    f"the {_words(element)} is carried out by {what} "
                    f"{element.get(attribute)}, which this engine cannot run. Make it a script "
                    "task (Python) or a service task calling one of the engine's services.",
                )
        people = [
            f"camunda:{a}={element.get(f'{{{CAMUNDA_NS}}}{a}')!s}"
            for a in ("assignee", "candidateUsers", "candidateGroups")
            if element.get(f"{{{CAMUNDA_NS}}}{a}") is not None
        ]
        if people:
            raise _refuse(
                element,
                filename,
                f"the {_words(element)} names who does it the Camunda way ({', '.join(people)}), "
                "which this engine does not read: a task goes to the role of its lane, in the "
                "office the case belongs to. Remove the attribute and put the task in the lane "
                "of the role that does it.",
            )
        form = element.get(f"{{{CAMUNDA_NS}}}formKey")
        form_data = element.find(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}formData")
        if form is not None or form_data is not None:
            raise _refuse(
                element,
                filename,
                f"the {_words(element)} defines its form the Camunda way "
                f"({'camunda:formKey' if form is not None else 'camunda:formData'}), which this "
                "engine does not read. Draw the form in the form editor and name its file in "
                "the task's form property.",
            )
        if element.get(f"{{{CAMUNDA_NS}}}type") == "external":
            raise _refuse(
                element,
                filename,
                f'the {_words(element)} is an external task (camunda:type="external", topic '
                f"{element.get(f'{{{CAMUNDA_NS}}}topic') or '…'}), which this engine does not "
                "serve. Make it a script task (Python) or a service task calling one of the "
                "engine's services.",
            )
        if local == "businessRuleTask":
            ref = element.get(f"{{{CAMUNDA_NS}}}decisionRef")
            ours = element.find(f".//{{{SPIFF_NS}}}calledDecisionId")
            if ref is not None and ours is None:
                raise _refuse(
                    element,
                    filename,
                    f"the {_words(element)} names its decision the Camunda way "
                    f'(camunda:decisionRef="{ref}"); name it the way this engine reads: '
                    f"<spiffworkflow:calledDecisionId>{ref}</spiffworkflow:calledDecisionId> "
                    "in the task's extension elements (in our editor: the task's decision "
                    "field), with the decision's DMN file in the procedure.",
                )
        if local == "scriptTask":
            script_format = (element.get("scriptFormat") or "").strip()
            if script_format.lower() not in PYTHON_LANGUAGES:
                raise _refuse(
                    element,
                    filename,
                    f'the {_words(element)} is written in {script_format} (scriptFormat="'
                    f'{script_format}"); this engine runs scripts in Python only. Rewrite the '
                    'script in Python and set scriptFormat="python" (or remove it).',
                )
        if local in ("conditionExpression", "condition", "completionCondition"):
            language = (element.get("language") or "").strip()
            if language.lower() not in PYTHON_LANGUAGES:
                owner = _owner(element)
                where = (
                    _flow_words(owner, ids)
                    if _local(owner.tag) == "sequenceFlow"
                    else _words(owner)
                )
                raise _refuse(
                    element,
                    filename,
                    f'the condition of {where} is written in {language} (language="{language}"); '
                    "conditions in this engine are Python expressions over the case data. "
                    "Rewrite it in Python and remove the language attribute.",
                )
            owner = _owner(element)
            where = (
                _flow_words(owner, ids) if _local(owner.tag) == "sequenceFlow" else _words(owner)
            )
            problem = _condition_problem(element.text or "", where)
            if problem:
                raise _refuse(element, filename, problem)
        if element.tag in TIMER_TAGS:
            owner = _owner(element)
            problem = _timer_problem(element.text or "", TIMER_TAGS[element.tag])
            if problem:
                raise _refuse(element, filename, f"{_words(owner)}: {problem}")
            if TIMER_TAGS[element.tag] == "timeCycle" and _local(owner.tag) != "startEvent":
                problem = _cycle_problem(element)
                if problem:
                    raise _refuse(element, filename, f"{_words(owner)}: {problem}")
        if local.endswith("Gateway") and not outgoing.get(element.get("id") or ""):
            raise _refuse(
                element,
                filename,
                f"the {_words(element)} has no outgoing sequence flow, so a case reaching it "
                "would stop there without ending. Connect it to what follows (or to an end "
                "event).",
            )
        if local in _FLOW_NODES and local not in _SPLITTING:
            flows = outgoing.get(element.get("id") or "", [])
            if len(flows) > 1:
                raise _refuse(
                    element,
                    filename,
                    f"the {_words(element)} has {len(flows)} outgoing sequence flows; in this "
                    f"engine a {_TYPE_WORDS.get(local, local)} has one. Draw a gateway after it: "
                    "a parallel gateway to follow all the paths, or an exclusive gateway with a "
                    "condition on each path to choose one.",
                )


def check_dialect(tree: etree._ElementTree, filename: str) -> None:
    """Refuse FEEL (`=…`) and JUEL (`${…}`) expressions, naming the element and the rewrite.

    Also refused here, because other tools write them and this engine would misread or ignore
    them: script tasks not in Python, conditions with another `language`, Java delegates and
    external tasks, Camunda listeners, `camunda:decisionRef`, Camunda's assignee / candidate
    groups and formKey / formData, Camunda 8 task definitions, a gateway with no way out, a task
    with several outgoing flows (an implicit split), a timer whose value is of the wrong kind
    (a duration in a timeDate) or not a valid ISO 8601 value, a cron cycle, a file without an
    executable process, and FEEL tests in DMN cells (with the Python when it is a list, a range
    or `not(…)`). Run it on the file as written (before `normalize_timer_literals`)."""
    root = tree.getroot()
    namespace = etree.QName(root.tag).namespace if isinstance(root.tag, str) else None
    if namespace in DMN_NAMESPACES:
        _check_dmn(tree, filename)
    elif namespace == BPMN_NS:
        _check_bpmn(tree, filename)


# -- parser messages in words ------------------------------------------------------------------

_REPR = re.compile(r"<Element (\{[^}]*\})?([\w.-]+) at 0x[0-9a-fA-F]+>")
_ANY_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")
_QNAME = re.compile(r"\{([^}]*)\}([\w.-]+)")


def _qname_words(match: re.Match[str]) -> str:
    prefix = _NS_NAMES.get(match.group(1))
    return f"{prefix}:{match.group(2)}" if prefix and prefix != "bpmn" else match.group(2)


def _names(text: str) -> str:
    """`{http://…/MODEL}sequenceFlow` → `sequenceFlow` (a `camunda:` prefix kept)."""
    text = _REPR.sub(lambda m: m.group(2), text)
    text = _ANY_REPR.sub("an element", text)
    return _QNAME.sub(_qname_words, text)


def _expected(listing: str, limit: int = 8) -> str:
    items = [i.strip() for i in _names(listing).split(",") if i.strip()]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _schema_words(message: str) -> str | None:
    """The XML schema validator's messages (lxml/libxml2), in words."""
    head = re.match(r"Element '([^']*)'(?:, attribute '([^']*)')?: (.*)", message, re.DOTALL)
    if head is None:
        return None
    tag, attribute, rest = _names(head.group(1)), head.group(2), head.group(3).strip()
    if m := re.match(r"The attribute '([^']*)' is required but missing", rest):
        extra = ""
        if tag == "sequenceFlow":
            extra = " Connect both ends of the flow in the modeler."
        return (
            f"the {tag} element has no {m.group(1)} attribute, which the BPMN standard requires."
            + extra
        )
    if rest.startswith("This element is not expected"):
        allowed = re.search(r"Expected is (?:one of )?\(\s*(.*?)\s*\)", rest, re.DOTALL)
        said = f" Allowed here: {_expected(allowed.group(1))}." if allowed else ""
        return (
            f"the element {tag} is not allowed at this place by the BPMN 2.0 standard (an "
            f"unknown element type, a misspelt name, or the wrong parent).{said} Remove or "
            "replace it, or redraw it in the modeler."
        )
    if m := re.match(
        r"Missing child element\(s\)\. Expected is (?:one of )?\(\s*(.*?)\s*\)", rest, re.DOTALL
    ):
        return (
            f"the {tag} element lacks a required part: one of {_expected(m.group(1))}. "
            "Complete it in the modeler."
        )
    if attribute and (
        m := re.match(r"'([^']*)' is not a valid value of the atomic type 'xs:ID'", rest)
    ):
        return (
            f"the {attribute} '{m.group(1)}' of this {tag} is used by another element of the "
            "file, or is not a valid id (an id starts with a letter or _, without spaces). Give "
            "each element an id of its own."
        )
    if attribute and (
        m := re.match(
            r"'([^']*)' is not a valid value of the atomic type "
            r"'xs:boolean'",
            rest,
        )
    ):
        return (
            f"the attribute {attribute} of this {tag} is '{m.group(1)}'; it must be true or false."
        )
    if attribute and (
        m := re.match(
            r"'([^']*)' is not a valid value of the atomic type "
            r"'xs:(\w+)'",
            rest,
        )
    ):
        return (
            f"the attribute {attribute} of this {tag} is '{m.group(1)}', which is not a valid "
            f"{m.group(2)} value for the BPMN standard."
        )
    if attribute and rest.startswith("The attribute") and "is not allowed" in rest:
        return f"the attribute {attribute} is not allowed on the {tag} element by the standard."
    return f"the {tag} element breaks the BPMN 2.0 standard: {_names(rest)}"


_KNOWN: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"When looking for a task spec, we found two items.*?\(([^)]*)\)", re.DOTALL),
        "a sequence flow from this element leads to '{0}', which is not an element of the "
        "same process (it does not exist, or it is in another pool). Connect the flow to an "
        "element of this process.",
    ),
    (
        re.compile(r"Multiple outgoing flows are not supported for tasks of type\b"),
        "this {type} has more than one outgoing sequence flow; in this engine it may have one. "
        "Draw a gateway after it: a parallel gateway to follow all the paths, or an exclusive "
        "gateway with a condition on each path to choose one.",
    ),
    (
        re.compile(r"Process (\S+) is not executable"),
        "the process '{0}' is not marked executable, so there is nothing this engine may run. "
        'Mark it executable: tick "Executable" in the process\'s properties, or write '
        'isExecutable="true" on <bpmn:process>.',
    ),
    (
        re.compile(r"No start event found"),
        "the process has no start event. Draw one where the case begins.",
    ),
    (
        re.compile(r"Exactly one start event is required in a SubWorkflow Task; found (\d+)"),
        "this subprocess must have exactly one start event and has {0}. Draw one start event "
        "inside it.",
    ),
    (
        re.compile(r"A SubWorkflow Must contain an End event"),
        "this subprocess has no end event. Draw one inside it.",
    ),
    (
        re.compile(r"Time Specification Error\. Unknown Time Specification"),
        "this timer says neither when nor how long: give it a duration (P7D, PT24H), a date "
        "(2026-12-31T10:00:00+05:00) or a cycle (R3/PT24H) in the timer's properties.",
    ),
    (
        re.compile(r"Non-default exclusive outgoing sequence flow without condition"),
        "this flow leaves an exclusive gateway without a condition and is not the gateway's "
        "default flow. Give it a condition (a Python expression over the case data, e.g. "
        "amount > 100) or make it the default flow.",
    ),
    (
        re.compile(r'No DMN Diagram available with id "None"'),
        "this business rule task names no decision. Name the decision table it evaluates "
        "(<spiffworkflow:calledDecisionId>; in our editor: the task's decision field).",
    ),
    (
        re.compile(
            r'No DMN Diagram available with id "([^"]*)", Available DMN ids are: ?(.*?)\.?$'
        ),
        "this business rule task calls the decision '{0}', which is in none of the "
        "procedure's DMN files (decisions there: {1}). Add the DMN file with that decision, "
        "or name one of these.",
    ),
    (
        re.compile(
            r"The process '([^']*)' was not found\. Did you mean one of the following: ?(.*?)\?"
        ),
        "the called process '{0}' is defined nowhere the engine looked: in the procedure's "
        "own files (processes there: {1}), in the published procedures, or in the BPMN "
        "directory. Publish the called procedure first, add its file, or correct "
        "calledElement.",
    ),
    (
        re.compile(r"called process '([^']*)' is not defined in any model"),
        "the called process '{0}' is defined nowhere the engine looked: in the procedure's "
        "own files, in the published procedures, or in the BPMN directory. Publish the "
        "called procedure first, add its file, or correct calledElement.",
    ),
    (
        re.compile(r"Duplicate process ID: ?(\S+)"),
        "the process id '{0}' is used twice (in this file or in another file of the "
        "procedure). Give each process its own id.",
    ),
    (
        re.compile(r"Cannot resolve (data(?:Input|Output)Association)"),
        "a {0} of this element points to a data object that does not exist in the process. "
        "Connect it to a data object of the process, or remove it.",
    ),
    (
        re.compile(r"unexpected keyword argument 'node'"),
        "this event refers to a message, signal, error or escalation that is not defined in "
        "the file. Define it (with an id and a name) and select it in the event's properties.",
    ),
    (
        re.compile(r"A multiinstance task must specify a cardinality or a loop input"),
        "this multi-instance task says neither how many times to run nor over which "
        "collection. Give it a loop cardinality or an input collection.",
    ),
    (
        re.compile(r"A loopMaximum or loopCondition must be specified for Loop Tasks"),
        "this loop task has no loop condition and no maximum. Give it one, so it ends.",
    ),
    (
        re.compile(r"Multiple decision tables are not current supported"),
        "the DMN file holds more than one decision; the engine reads one decision table per "
        "file. Put each decision in a file of its own.",
    ),
    (
        re.compile(r"No decisions found"),
        "the DMN file holds no decision table. Draw one, or remove the file.",
    ),
    (
        re.compile(r"There is no support implemented for this task type"),
        "this engine cannot run this kind of element. Replace it with a task type it runs "
        "(user, manual, script, service, business rule task, call activity, subprocess).",
    ),
    (
        re.compile(r"Conditional event definition with missing condition"),
        "this conditional event has no condition. Give it one (a Python expression over the "
        "case data).",
    ),
    (
        re.compile(r"Could not find messageRef from message event definition"),
        "this message start event names no message. Select the message it waits for.",
    ),
]


def _tidy(message: str) -> str:
    """SpiffWorkflow appends `. ` and its notes (`Process p is not executable.. `)."""
    text = message.strip()
    text = text.split(". Error is")[0]
    while text.endswith(".."):
        text = text[:-1]
    return text.strip()


def clean_parser_error(
    message: str,
    filename: str,
    line: int | None,
    element_id: str | None,
    *,
    tree: etree._ElementTree | None = None,
) -> ModelError:
    """A parser-layer message in words: no Python repr, the type name kept, where it looked.

    `tree` (optional, the file's parsed XML) lets the words name the element's type and its
    drawn name; without it the message still holds no repr and no namespace URI."""
    text = _tidy(message)
    element: etree._Element | None = None
    if tree is not None and element_id:
        found = tree.getroot().xpath("//*[@id=$eid]", eid=element_id)
        element = found[0] if found else None
        if element is not None and line is None:
            line = element.sourceline
    called = re.search(r"(?:The process|called process) '([^']*)'", text)
    if tree is not None and element is None and called is not None:
        found = tree.getroot().xpath(
            "//*[local-name()='callActivity'][@calledElement=$pid]", pid=called.group(1)
        )
        if found:
            element = found[0]
            element_id, line = element.get("id"), element.sourceline
    kind = _TYPE_WORDS.get(_local(element.tag), _local(element.tag)) if element is not None else ""

    words = _schema_words(text)
    if words is None:
        for pattern, template in _KNOWN:
            match = pattern.search(text)
            if match is not None:
                groups = [_names(g).strip() or "none" for g in match.groups()]
                words = template.format(*groups, type=kind or "element")
                break
    if words is None:
        words = _names(text)
        if words.startswith("TypeError(") or words.startswith("AttributeError("):
            words = (
                "the parser could not read this element (a part it needs is missing or points "
                "to nothing). Check its properties in the modeler."
            )
    if not words.endswith("."):
        words += "."
    return ModelError(
        words,
        filename=filename,
        line=line,
        element_id=element_id or None,
        element_name=element_name(tree, element_id),
    )
