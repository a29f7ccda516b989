"""The trust policy evaluator: each statement judged alone, with exact messages (they reach users)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from control_plane.trust.policy import NOT_LET_IN, REJECTED, TrustVerdict, evaluate_trust_policy

SUB = "123456789012345678901"
OTHER = "111111111111111111111"
PIN = '{"StringEquals": {"accounts.google.com:sub": "123456789012345678901"}}'
NO_STATEMENT_LETS_US_IN = (
    "No statement lets Costory's identity in: add an Allow statement with Principal "
    '{"Federated": "accounts.google.com"}, Action "sts:AssumeRoleWithWebIdentity" and Condition ' + PIN + "."
)


def statement(**overrides):
    """A correct statement for SUB; overrides replace elements, and an override of None removes one."""
    good = {
        "Effect": "Allow",
        "Principal": {"Federated": "accounts.google.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"accounts.google.com:sub": SUB}},
    }
    good.update(overrides)
    return {key: value for key, value in good.items() if value is not None}


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def sub_condition(operator, value):
    return {operator: {"accounts.google.com:sub": value}}


GOOD = policy(statement())

CASES = [
    pytest.param(GOOD, True, [], id="good"),
    pytest.param(
        json.dumps({"Version": "2012-10-17", "Statement": statement(Sid="AllowCostory")}),
        True,
        [],
        id="good-single-statement-object-with-sid",
    ),
    pytest.param(
        policy(
            statement(
                Sid="AllowCostory",
                Principal={"Federated": ["accounts.google.com"]},
                Action=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                Condition=sub_condition("StringEquals", [SUB]),
            )
        ),
        True,
        [],
        id="good-list-forms",
    ),
    pytest.param(
        policy(statement(Condition=sub_condition("StringEquals", [OTHER, SUB]))),
        True,
        [],
        id="sub-list-with-ours-and-another",
    ),
    pytest.param(
        policy(statement(Action="STS:assumerolewithwebidentity")), True, [], id="action-is-case-insensitive"
    ),
    pytest.param(policy(statement(Action="sts:AssumeRoleWith*")), True, [], id="action-wildcard-with-pin"),
    pytest.param(policy(statement(Action="sts:*")), True, [], id="sts-star-with-pin"),
    pytest.param(
        policy(statement(Condition=sub_condition("StringEquals", SUB) | {"StringLike": {"x:y": "*"}})),
        True,
        [],
        id="pin-with-other-conditions",
    ),
    pytest.param(
        policy(statement(Condition={"StringEquals": {"Accounts.Google.Com:SUB": SUB}})),
        True,
        [],
        id="condition-key-is-case-insensitive",
    ),
    pytest.param(
        policy(statement(), statement(Condition=sub_condition("StringEquals", OTHER))),
        True,
        [],
        id="another-statement-pinning-another-sub",
    ),
    pytest.param(
        policy(
            statement(),
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "sts:AssumeRole",
            },
        ),
        True,
        [],
        id="unrelated-aws-account-statement",
    ),
    pytest.param(quote(GOOD), True, [], id="url-encoded"),
    pytest.param(
        policy(statement(), statement(Effect="Deny", Condition=sub_condition("StringNotEquals", SUB))),
        True,
        [],
        id="conditional-deny-ignored",
    ),
    pytest.param(
        policy(statement(Condition=sub_condition("StringEquals", OTHER))),
        False,
        [
            'Statement[1] pins accounts.google.com:sub to "111111111111111111111", not this tenant\'s '
            '"123456789012345678901"; set the StringEquals value to "123456789012345678901".',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="wrong-sub",
    ),
    pytest.param(
        policy(statement(Condition=None)),
        False,
        [
            "Statement[1] trusts accounts.google.com with no condition on accounts.google.com:sub, so any "
            f"Google account can assume this role; add Condition {PIN}.",
            NO_STATEMENT_LETS_US_IN,
        ],
        id="no-sub-condition",
    ),
    pytest.param(
        policy(statement(Condition=sub_condition("StringLike", "1234*"))),
        False,
        [
            'Statement[1] matches accounts.google.com:sub with StringLike "1234*", which lets other Google '
            'identities in; use StringEquals with the exact id "123456789012345678901".',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="stringlike-wildcard",
    ),
    pytest.param(
        policy(statement(Condition=sub_condition("StringLike", SUB))),
        False,
        [
            "Statement[1] constrains accounts.google.com:sub with StringLike, a pattern operator; use "
            'StringEquals with the exact id "123456789012345678901" so the condition cannot match other '
            "Google identities.",
            NO_STATEMENT_LETS_US_IN,
        ],
        id="stringlike-without-wildcard",
    ),
    pytest.param(
        policy(statement(Condition=sub_condition("ForAllValues:StringEquals", SUB))),
        False,
        [
            "Statement[1] constrains accounts.google.com:sub with ForAllValues:StringEquals, a set operator: "
            "ForAllValues also matches a request that carries no sub at all, and accounts.google.com:sub has "
            'a single value; use StringEquals with the exact id "123456789012345678901".',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="forallvalues",
    ),
    pytest.param(
        policy(statement(Condition=sub_condition("ForAnyValue:StringEquals", SUB))),
        False,
        [
            "Statement[1] constrains accounts.google.com:sub with ForAnyValue:StringEquals, a set operator: "
            "set operators are meant for multivalued keys, and accounts.google.com:sub has a single value; "
            'use StringEquals with the exact id "123456789012345678901".',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="foranyvalue",
    ),
    pytest.param(
        policy(statement(Condition=sub_condition("StringNotEquals", OTHER))),
        False,
        [
            "Statement[1] constrains accounts.google.com:sub only with StringNotEquals "
            '"111111111111111111111", '
            "which lets in every other Google identity; use StringEquals with the exact id "
            '"123456789012345678901".',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="stringnotequals",
    ),
    pytest.param(
        policy(statement(Condition={"stringequals": {"accounts.google.com:sub": SUB}})),
        False,
        [
            "Statement[1] constrains accounts.google.com:sub with stringequals, which is not an exact pin; "
            'use StringEquals with the exact id "123456789012345678901".',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="operator-name-is-case-sensitive",
    ),
    pytest.param(
        policy(statement(Principal="*")),
        False,
        [
            'Statement[1] trusts any principal ("Principal": "*"), so anyone can assume this role; '
            'set "Principal": {"Federated": "accounts.google.com"}.',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="principal-star-with-pin",
    ),
    pytest.param(
        policy(statement(Principal={"AWS": "*"}, Condition=None)),
        False,
        [
            'Statement[1] trusts any principal ("Principal": {"AWS": "*"}), so anyone can assume this role; '
            f'set "Principal": {{"Federated": "accounts.google.com"}} and add Condition {PIN}.',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="principal-aws-star",
    ),
    pytest.param(
        policy(statement(Principal={"Federated": "*"})),
        False,
        [
            'Statement[1] trusts any principal ("Principal": {"Federated": "*"}), so anyone can assume this '
            'role; set "Principal": {"Federated": "accounts.google.com"}.',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="principal-federated-star",
    ),
    pytest.param(
        policy(statement(Principal={"Federated": "cognito-identity.amazonaws.com"})),
        False,
        [
            'Statement[1] trusts {"Federated": "cognito-identity.amazonaws.com"}, not Google; '
            'set "Principal": {"Federated": "accounts.google.com"}.',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="principal-another-provider",
    ),
    pytest.param(
        policy(statement(Principal={"AWS": "arn:aws:iam::111122223333:root"}, Action="sts:AssumeRole")),
        False,
        [
            'Statement[1] trusts {"AWS": "arn:aws:iam::111122223333:root"}, not Google; '
            'set "Principal": {"Federated": "accounts.google.com"}.',
            "Statement[1] allows sts:AssumeRole but not sts:AssumeRoleWithWebIdentity; "
            'add "sts:AssumeRoleWithWebIdentity" to Action.',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="principal-aws-account-and-assume-role",
    ),
    pytest.param(
        policy(statement(Action="sts:AssumeRole")),
        False,
        [
            "Statement[1] allows sts:AssumeRole but not sts:AssumeRoleWithWebIdentity; "
            'add "sts:AssumeRoleWithWebIdentity" to Action.',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="missing-action",
    ),
    pytest.param(
        policy(statement(Action="sts:*", Condition=None)),
        False,
        [
            'Statement[1] allows "sts:*" to accounts.google.com with no condition on '
            "accounts.google.com:sub: "
            "sts:* without a condition is too broad, as any Google account can assume this role; "
            f'set "Action": "sts:AssumeRoleWithWebIdentity" and add Condition {PIN}.',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="sts-star-without-condition",
    ),
    pytest.param(
        policy(
            statement(),
            statement(Principal={"AWS": "arn:aws:iam::111122223333:root"}, Action="*", Condition=None),
        ),
        False,
        [
            'Statement[2] allows "*" with no condition: * without a condition is too broad; narrow Action to '
            'what {"AWS": "arn:aws:iam::111122223333:root"} needs (Costory needs only '
            '"sts:AssumeRoleWithWebIdentity") or add a Condition.',
        ],
        id="star-action-for-aws-account-without-condition",
    ),
    pytest.param(
        policy(statement(), statement(Sid="Legacy", Condition=None)),
        False,
        [
            "Statement[2] (Sid Legacy) trusts accounts.google.com with no condition on "
            "accounts.google.com:sub, "
            f"so any Google account can assume this role; add Condition {PIN}.",
        ],
        id="good-and-too-broad",
    ),
    pytest.param(
        policy(statement(Condition=sub_condition("StringEquals", OTHER)), statement(Condition=None)),
        False,
        [
            'Statement[1] pins accounts.google.com:sub to "111111111111111111111", not this tenant\'s '
            '"123456789012345678901"; set the StringEquals value to "123456789012345678901".',
            "Statement[2] trusts accounts.google.com with no condition on accounts.google.com:sub, so any "
            f"Google account can assume this role; add Condition {PIN}.",
            NO_STATEMENT_LETS_US_IN,
        ],
        id="wrong-sub-and-too-broad-in-statement-order",
    ),
    pytest.param(
        policy(statement(NotAction="sts:AssumeRole", Action=None)),
        False,
        [
            "Statement[1] uses NotAction in an Allow statement, which allows every action it does not list; "
            'replace it with "Action": "sts:AssumeRoleWithWebIdentity".',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="notaction",
    ),
    pytest.param(
        policy(
            statement(), statement(NotPrincipal={"AWS": "arn:aws:iam::111122223333:root"}, Principal=None)
        ),
        False,
        [
            "Statement[2] uses NotPrincipal in an Allow statement, which trusts every principal it does not "
            'list; replace it with "Principal": {"Federated": "accounts.google.com"}.',
        ],
        id="notprincipal",
    ),
    pytest.param(
        policy(statement(), statement(Effect="Deny", Condition=None)),
        False,
        [
            "Statement[2] denies sts:AssumeRoleWithWebIdentity to accounts.google.com with no condition, so "
            "Costory's identity is always refused; remove it, or limit it with Condition "
            '{"StringNotEquals": {"accounts.google.com:sub": "123456789012345678901"}}.',
        ],
        id="deny-blocks",
    ),
    pytest.param(
        policy(),
        False,
        [NO_STATEMENT_LETS_US_IN],
        id="no-statements",
    ),
    pytest.param(
        "{not json",
        False,
        [
            "The trust policy is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)."
        ],
        id="invalid-json",
    ),
    pytest.param(
        "[]",
        False,
        ['The trust policy must be a JSON object with a "Statement", not an array.'],
        id="not-an-object",
    ),
    pytest.param(
        json.dumps({"Statement": "Allow everything"}),
        False,
        ['The trust policy\'s "Statement" must be an object or a list of objects, not a string.'],
        id="statement-is-a-string",
    ),
    pytest.param(
        policy(statement(), "Allow"),
        False,
        ["Statement[2] must be a JSON object, not a string."],
        id="statement-item-not-an-object",
    ),
    pytest.param(
        policy(statement(Effect="allow")),
        False,
        ['Statement[1] has Effect "allow"; IAM accepts only "Allow" or "Deny".', NO_STATEMENT_LETS_US_IN],
        id="effect-misspelt",
    ),
    pytest.param(
        policy(statement(Action=None)),
        False,
        [
            'Statement[1] has neither Action nor NotAction; set "Action": "sts:AssumeRoleWithWebIdentity".',
            NO_STATEMENT_LETS_US_IN,
        ],
        id="no-action",
    ),
    pytest.param(
        policy(statement(Condition={"StringEquals": [SUB]})),
        False,
        [
            "Statement[1] has a malformed Condition: each operator must map condition keys to a string or a "
            "list of strings.",
            NO_STATEMENT_LETS_US_IN,
        ],
        id="malformed-condition",
    ),
]


class TestEvaluateTrustPolicy:
    @pytest.mark.parametrize("document, ok, messages", CASES)
    def test_verdict(self, document, ok, messages):
        verdict = evaluate_trust_policy(document, SUB)

        assert (verdict.ok, [problem.detail for problem in verdict.problems]) == (ok, messages)

    def test_accepts_a_parsed_document(self):
        assert evaluate_trust_policy(json.loads(GOOD), SUB) == TrustVerdict(True, ())

    def test_names_statements_by_index_and_sid(self):
        document = policy(statement(Sid="AllowCostory", Condition=None), statement(Condition=None))

        verdict = evaluate_trust_policy(document, SUB)

        assert [(problem.path, problem.summary, problem.detail[:31]) for problem in verdict.problems] == [
            (("Statement", 0), REJECTED, "Statement[1] (Sid AllowCostory)"),
            (("Statement", 1), REJECTED, "Statement[2] trusts accounts.go"),
            ((), NOT_LET_IN, "No statement lets Costory's ide"),
        ]

    def test_judges_the_tenant_it_is_given(self):
        document = policy(statement(Condition=sub_condition("StringEquals", OTHER)))

        assert evaluate_trust_policy(document, OTHER).ok
        assert not evaluate_trust_policy(document, SUB).ok


class TestSummary:
    def test_joins_the_problems_into_one_paragraph(self):
        verdict = evaluate_trust_policy(
            policy(statement(Condition=sub_condition("StringEquals", OTHER))), SUB
        )

        assert verdict.summary() == (
            'Statement[1] pins accounts.google.com:sub to "111111111111111111111", not this tenant\'s '
            '"123456789012345678901"; set the StringEquals value to "123456789012345678901". '
            "No statement lets Costory's identity in: add an Allow statement with Principal "
            '{"Federated": "accounts.google.com"}, Action "sts:AssumeRoleWithWebIdentity" and Condition '
            '{"StringEquals": {"accounts.google.com:sub": "123456789012345678901"}}.'
        )

    def test_says_so_when_ok(self):
        verdict = TrustVerdict(True, ())

        assert verdict.summary() == (
            "The trust policy lets this tenant's Google identity in, and no statement is too broad."
        )

    def test_a_too_broad_statement_is_rejected_on_its_path(self):
        verdict = evaluate_trust_policy(policy(statement(), statement(Principal="*")), SUB)

        assert [(problem.path, problem.summary, problem.is_error) for problem in verdict.problems] == [
            (("Statement", 1), REJECTED, True)
        ]

    def test_a_statement_for_another_tenant_gets_advice_on_its_path(self):
        verdict = evaluate_trust_policy(policy(statement(Condition=sub_condition("StringEquals", OTHER))), SUB)

        assert [(problem.path, problem.summary) for problem in verdict.problems] == [
            (("Statement", 0), NOT_LET_IN),
            ((), NOT_LET_IN),
        ]
