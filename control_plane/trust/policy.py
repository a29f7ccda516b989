"""Whether an AWS role's trust policy lets a tenant's Google identity in, and nobody else.

Costory assumes customers' roles with ``sts:AssumeRoleWithWebIdentity`` and a Google ID token. Web
identity has no external id, so the StringEquals pin on ``accounts.google.com:sub`` is all that keeps
every other Google account out. Each statement is judged on its own: a good statement does not excuse
a too-broad one elsewhere. Pure: the document is handed in, nothing is fetched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from costory_schema.problems import Path, Problem

GOOGLE = "accounts.google.com"
SUB_KEY = "accounts.google.com:sub"
WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
REJECTED = "Trust Policy Rejected"
"""Summary of a problem that fails the verdict even when another statement lets the tenant in."""
NOT_LET_IN = "Trust Policy Does Not Let Costory In"
"""Summary of why nothing lets the tenant in, and of what to add."""

_GOOGLE_PRINCIPAL = '"Principal": {"Federated": "accounts.google.com"}'
_WEB_IDENTITY_ACTION = '"Action": "sts:AssumeRoleWithWebIdentity"'
_SET_OPERATORS = ("ForAllValues:", "ForAnyValue:")
_NEGATED_OPERATORS = ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike")


@dataclass(frozen=True)
class TrustVerdict:
    ok: bool
    """True iff a statement lets the tenant in, none is too broad and no Deny blocks it."""
    problems: tuple[Problem, ...] = ()
    """Empty when ``ok``. Each is on its JSON path in the document (("Statement", 0) is the first statement,
    which messages call `Statement[1]`; () is the document as a whole); its detail starts with the statement
    it is about."""

    def summary(self) -> str:
        """One paragraph for an error message."""
        if self.ok:
            return "The trust policy lets this tenant's Google identity in, and no statement is too broad."
        return " ".join(problem.detail for problem in self.problems)


class _Invalid(Exception):
    """The document or a statement is not a trust policy IAM would accept; the message says why."""


@dataclass(frozen=True)
class _Statement:
    label: str
    allow: bool
    actions: tuple[str, ...]
    not_action: bool
    principal: Any
    """As written, to quote it back."""
    principals: dict[str, tuple[str, ...]]
    """Principal type → values; ``"*"`` is read as ``{"*": ("*",)}``."""
    not_principal: bool
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]
    """(operator, key, values), in the order written."""

    def allows_web_identity(self) -> bool:
        matched = any(_action_matches(pattern, WEB_IDENTITY) for pattern in self.actions)
        return not matched if self.not_action else matched

    def wildcard_actions(self) -> list[str]:
        """Action patterns that reach web identity only through a wildcard, e.g. ``sts:*``."""
        if self.not_action:
            return []
        return [p for p in self.actions if ("*" in p or "?" in p) and _action_matches(p, WEB_IDENTITY)]

    def federated(self) -> set[str]:
        return {value.lower() for value in self.principals.get("Federated", ())}

    def trusts_google(self) -> bool:
        return not self.not_principal and GOOGLE in self.federated()

    def trusts_anyone(self) -> bool:
        return not self.not_principal and any("*" in values for values in self.principals.values())

    def sub_conditions(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(operator, values) for operator, key, values in self.conditions if key.lower() == SUB_KEY]

    def pins(self) -> list[str]:
        """The subs a plain StringEquals allows (operator names are case-sensitive, keys are not)."""
        return [value for operator, values in self.sub_conditions() if operator == "StringEquals" for value in values]

    def mentions_google(self) -> bool:
        return self.trusts_google() or any(key.lower().startswith(GOOGLE + ":") for _, key, _ in self.conditions)


def evaluate_trust_policy(document: str | Mapping, subject_id: str) -> TrustVerdict:
    """Judge a trust policy (JSON text, URL-encoded JSON text as IAM GetRole returns it, or parsed)
    for the tenant whose Google subject id is ``subject_id``.

    1. Parse the document; if it is not a policy, that is the only problem.
    2. Judge each statement alone: malformed, a Deny that blocks Google, too broad, or granting.
    3. If nothing grants, add advice for the statements meant for Google, then say what to add.
    """
    try:
        raw_statements = _statements(_load(document))
    except _Invalid as invalid:
        return TrustVerdict(False, (Problem((), REJECTED, str(invalid)),))

    judgements: list[tuple[Path, _Judgement]] = [
        (("Statement", index), _judge(label, raw, subject_id))
        for index, (label, raw) in enumerate(_labelled(raw_statements))
    ]
    blocking = tuple(
        Problem(path, REJECTED, message) for path, judgement in judgements for message in judgement.blocking
    )
    if any(judgement.grants for _, judgement in judgements):
        return TrustVerdict(not blocking, blocking)
    found = [
        problem
        for path, judgement in judgements
        for problem in (
            *(Problem(path, REJECTED, message) for message in judgement.blocking),
            *(Problem(path, NOT_LET_IN, message) for message in judgement.advice),
        )
    ]
    missing = Problem(
        (),
        NOT_LET_IN,
        "No statement lets Costory's identity in: add an Allow statement with Principal "
        '{"Federated": "accounts.google.com"}, Action "sts:AssumeRoleWithWebIdentity" and Condition '
        f"{_pin(subject_id)}.",
    )
    return TrustVerdict(False, (*found, missing))


@dataclass(frozen=True)
class _Judgement:
    grants: bool = False
    blocking: tuple[str, ...] = ()
    """Problems that fail the verdict even when another statement grants."""
    advice: tuple[str, ...] = ()
    """Why a statement meant for Google does not let the tenant in; shown only if nothing grants."""


def _judge(label: str, raw: Any, subject_id: str) -> _Judgement:
    try:
        statement = _parse_statement(label, raw)
    except _Invalid as invalid:
        return _Judgement(blocking=(str(invalid),))
    if not statement.allow:
        return _Judgement(blocking=(_denies_message(label, subject_id),)) if _blocks_google(statement) else _Judgement()
    broad = _too_broad(statement, subject_id)
    if broad:
        return _Judgement(blocking=(broad,))
    if _grants(statement, subject_id):
        return _Judgement(grants=True)
    if statement.mentions_google():
        return _Judgement(advice=tuple(_advice(statement, subject_id)))
    return _Judgement()


def _grants(statement: _Statement, subject_id: str) -> bool:
    return statement.allows_web_identity() and statement.trusts_google() and subject_id in statement.pins()


def _too_broad(statement: _Statement, subject_id: str) -> str | None:
    """Why an Allow statement lets in more than one Google identity, or None."""
    label = statement.label
    if statement.not_action:
        return (
            f"{label} uses NotAction in an Allow statement, which allows every action it does not list; "
            f"replace it with {_WEB_IDENTITY_ACTION}."
        )
    if statement.not_principal:
        return (
            f"{label} uses NotPrincipal in an Allow statement, which trusts every principal it does not "
            f"list; replace it with {_GOOGLE_PRINCIPAL}."
        )
    if not statement.allows_web_identity():
        return None
    if statement.trusts_anyone():
        fix = f"set {_GOOGLE_PRINCIPAL}"
        if not statement.sub_conditions():
            fix += f" and add Condition {_pin(subject_id)}"
        return (
            f'{label} trusts any principal ("Principal": {_quote(statement.principal)}), so anyone can '
            f"assume this role; {fix}."
        )
    if statement.trusts_google() and not statement.pins():
        conditions = statement.sub_conditions()
        if conditions:
            return _unpinned_message(label, conditions, subject_id)
        wildcards = statement.wildcard_actions()
        if wildcards:
            return (
                f'{label} allows "{wildcards[0]}" to accounts.google.com with no condition on '
                f"accounts.google.com:sub: {wildcards[0]} without a condition is too broad, as any Google "
                f"account can assume this role; set {_WEB_IDENTITY_ACTION} and add Condition "
                f"{_pin(subject_id)}."
            )
        return (
            f"{label} trusts accounts.google.com with no condition on accounts.google.com:sub, so any Google "
            f"account can assume this role; add Condition {_pin(subject_id)}."
        )
    wildcards = statement.wildcard_actions()
    if wildcards and not statement.conditions:
        return (
            f'{label} allows "{wildcards[0]}" with no condition: {wildcards[0]} without a condition is too '
            f"broad; narrow Action to what {_quote(statement.principal)} needs (Costory needs only "
            f'"sts:AssumeRoleWithWebIdentity") or add a Condition.'
        )
    return None


def _unpinned_message(label: str, conditions: list[tuple[str, tuple[str, ...]]], subject_id: str) -> str:
    """Why conditions on the sub that are not a plain StringEquals do not keep other identities out."""
    fix = f'use StringEquals with the exact id "{subject_id}"'

    def first(test):
        return next(((operator, values) for operator, values in conditions if test(operator)), None)

    if found := first(lambda operator: operator.startswith(_SET_OPERATORS)):
        operator, _ = found
        why = (
            "ForAllValues also matches a request that carries no sub at all"
            if operator.startswith("ForAllValues:")
            else "set operators are meant for multivalued keys"
        )
        return (
            f"{label} constrains accounts.google.com:sub with {operator}, a set operator: {why}, and "
            f"accounts.google.com:sub has a single value; {fix}."
        )
    if found := first(lambda operator: operator.removesuffix("IfExists") in _NEGATED_OPERATORS):
        operator, values = found
        return (
            f"{label} constrains accounts.google.com:sub only with {operator} {_quote_all(values)}, which "
            f"lets in every other Google identity; {fix}."
        )
    if found := first(lambda operator: operator == "StringLike"):
        _, values = found
        wild = [value for value in values if "*" in value or "?" in value]
        if wild:
            return (
                f"{label} matches accounts.google.com:sub with StringLike {_quote_all(wild)}, which lets "
                f"other Google identities in; {fix}."
            )
        return (
            f"{label} constrains accounts.google.com:sub with StringLike, a pattern operator; {fix} so the "
            "condition cannot match other Google identities."
        )
    operator, _ = conditions[0]
    return f"{label} constrains accounts.google.com:sub with {operator}, which is not an exact pin; {fix}."


def _advice(statement: _Statement, subject_id: str) -> list[str]:
    """What keeps an Allow statement meant for Google (and not too broad) from letting the tenant in."""
    label = statement.label
    advice = []
    if not statement.trusts_google():
        advice.append(f"{label} trusts {_quote(statement.principal)}, not Google; set {_GOOGLE_PRINCIPAL}.")
    if not statement.allows_web_identity():
        allowed = ", ".join(statement.actions)
        advice.append(
            f"{label} allows {allowed} but not sts:AssumeRoleWithWebIdentity; "
            'add "sts:AssumeRoleWithWebIdentity" to Action.'
        )
    pins = statement.pins()
    conditions = statement.sub_conditions()
    if pins and subject_id not in pins:
        advice.append(
            f'{label} pins accounts.google.com:sub to {_quote_all(pins)}, not this tenant\'s "{subject_id}"; '
            f'set the StringEquals value to "{subject_id}".'
        )
    elif not pins and conditions:
        advice.append(_unpinned_message(label, conditions, subject_id))
    elif not pins:
        advice.append(f"{label} has no condition on accounts.google.com:sub; add Condition {_pin(subject_id)}.")
    return advice


def _blocks_google(statement: _Statement) -> bool:
    """A Deny of web identity to Google with no condition refuses the tenant whatever else allows it."""
    if statement.conditions or not statement.allows_web_identity():
        return False
    if statement.not_principal:
        return GOOGLE not in statement.federated()
    return statement.trusts_anyone() or statement.trusts_google()


def _denies_message(label: str, subject_id: str) -> str:
    return (
        f"{label} denies sts:AssumeRoleWithWebIdentity to accounts.google.com with no condition, so "
        "Costory's identity is always refused; remove it, or limit it with Condition "
        f'{{"StringNotEquals": {{"accounts.google.com:sub": "{subject_id}"}}}}.'
    )


def _pin(subject_id: str) -> str:
    return f'{{"StringEquals": {{"accounts.google.com:sub": "{subject_id}"}}}}'


def _quote(value: Any) -> str:
    return json.dumps(value)


def _quote_all(values) -> str:
    return ", ".join(json.dumps(value) for value in values)


def _action_matches(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, ``*`` any run of characters, ``?`` any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, action, re.IGNORECASE | re.DOTALL) is not None


# Parsing: JSON shapes into _Statement, or _Invalid naming what IAM would reject.


def _load(document: Any) -> Any:
    if isinstance(document, Mapping):
        return document
    if not isinstance(document, str):
        raise _Invalid(f"The trust policy must be JSON text or an object, not {type(document).__name__}.")
    try:
        return json.loads(document)
    except json.JSONDecodeError as error:
        first_error = error
    decoded = unquote(document)
    if decoded != document:
        try:
            return json.loads(decoded)
        except json.JSONDecodeError as error:
            first_error = error
    raise _Invalid(f"The trust policy is not valid JSON: {first_error}.")


def _statements(policy: Any) -> list[Any]:
    if not isinstance(policy, Mapping):
        raise _Invalid(f'The trust policy must be a JSON object with a "Statement", not {_json_type(policy)}.')
    statements = policy.get("Statement", [])
    if isinstance(statements, Mapping):
        return [statements]
    if isinstance(statements, list):
        return statements
    raise _Invalid(
        f'The trust policy\'s "Statement" must be an object or a list of objects, not {_json_type(statements)}.'
    )


def _labelled(raw_statements: list[Any]) -> list[tuple[str, Any]]:
    """Each statement with its name in messages: 1-based, with its Sid when it has one."""
    labelled = []
    for index, raw in enumerate(raw_statements, start=1):
        sid = raw.get("Sid") if isinstance(raw, Mapping) else None
        label = f"Statement[{index}] (Sid {sid})" if isinstance(sid, str) and sid else f"Statement[{index}]"
        labelled.append((label, raw))
    return labelled


def _parse_statement(label: str, raw: Any) -> _Statement:
    if not isinstance(raw, Mapping):
        raise _Invalid(f"{label} must be a JSON object, not {_json_type(raw)}.")
    effect = raw.get("Effect")
    if effect is None:
        raise _Invalid(f'{label} has no Effect; set "Effect": "Allow".')
    if effect not in ("Allow", "Deny"):
        raise _Invalid(f'{label} has Effect {_quote(effect)}; IAM accepts only "Allow" or "Deny".')
    action_element = _one_of(label, raw, "Action", "NotAction", _WEB_IDENTITY_ACTION)
    principal_element = _one_of(label, raw, "Principal", "NotPrincipal", _GOOGLE_PRINCIPAL)
    principal = raw[principal_element]
    return _Statement(
        label=label,
        allow=effect == "Allow",
        actions=_strings(raw[action_element], f"{label} has an {action_element} that"),
        not_action=action_element == "NotAction",
        principal=principal,
        principals=_principals(label, principal_element, principal),
        not_principal=principal_element == "NotPrincipal",
        conditions=_conditions(label, raw.get("Condition", {})),
    )


def _one_of(label: str, raw: Mapping, element: str, negated: str, suggestion: str) -> str:
    if element in raw and negated in raw:
        raise _Invalid(f"{label} has both {element} and {negated}; keep only {suggestion}.")
    if element in raw:
        return element
    if negated in raw:
        return negated
    raise _Invalid(f"{label} has neither {element} nor {negated}; set {suggestion}.")


def _strings(value: Any, subject: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise _Invalid(f"{subject} is neither a string nor a list of strings.")


def _principals(label: str, element: str, principal: Any) -> dict[str, tuple[str, ...]]:
    if principal == "*":
        return {"*": ("*",)}
    if not isinstance(principal, Mapping):
        raise _Invalid(
            f'{label} has a {element} that is neither "*" nor an object such as {{"Federated": "{GOOGLE}"}}.'
        )
    return {kind: _strings(values, f"{label} has a {element} {kind} that") for kind, values in principal.items()}


def _conditions(label: str, condition: Any) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    malformed = _Invalid(
        f"{label} has a malformed Condition: each operator must map condition keys to a string or a list of strings."
    )
    if not isinstance(condition, Mapping):
        raise malformed
    found = []
    for operator, keys in condition.items():
        if not isinstance(keys, Mapping):
            raise malformed
        for key, values in keys.items():
            items = values if isinstance(values, list) else [values]
            if not all(isinstance(item, (str, bool, int, float)) for item in items):
                raise malformed
            found.append((operator, key, tuple(_condition_value(item) for item in items)))
    return tuple(found)


def _condition_value(value: str | bool | int | float) -> str:
    """IAM compares condition values as strings; JSON true is "true"."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null"
