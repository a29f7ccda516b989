"""The Azure Cost Management exports reader against Azurite on loopback: export runs are delivered the way
Cost Management delivers them (data blobs, then a manifest.json), the customer's container SAS is the only
credential, and every expected row below is worked out by hand."""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyarrow as pa
import pytest

from control_plane.billing.schema import SOURCE_SCHEMA
from control_plane.billing.sources.azure import AzureExportReader, CostKind, parse_tags, read_export_file
from control_plane.imports.errors import Quarantine, TerminalImportError, TransientImportError
from control_plane.logs import redacting
from devtools.azurite import (
    ACCOUNT,
    Azurite,
    ExportRunSpec,
    csv_gz_bytes,
    parquet_bytes,
    upload_run,
)

NOV1, NOV2, NOV3, NOV8 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 8)
UTC_MIDNIGHT = datetime(2026, 11, 1, tzinfo=UTC)
VM_ID = "/subscriptions/sub-1/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01"
AOAI_ACCOUNT = "/subscriptions/sub-2/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/ai-shared"
_names = itertools.count()


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    with Azurite() as emulator:
        yield emulator


@pytest.fixture
def container(azurite: Azurite):
    return azurite.create_container(f"exports{next(_names)}")


def reader_for(azurite: Azurite, container, sas_url: str | None = None, **kwargs) -> AzureExportReader:
    return AzureExportReader(
        ACCOUNT,
        container.container_name,
        "costs/actual",
        "costs/amortized",
        sas_url or azurite.container_sas_url(container.container_name),
        **kwargs,
    )


def run(kind: str, run_id: str, submitted_hour: int, files: dict, *, start=NOV1, end=date(2026, 11, 30), fmt="Parquet"):
    export_type = "ActualCost" if kind == "actual" else "AmortizedCost"
    submitted = UTC_MIDNIGHT + timedelta(days=2, hours=submitted_hour)
    return ExportRunSpec(f"team-{kind}", export_type, run_id, submitted, start, end, files, file_format=fmt)


def rows(reader: AzureExportReader, start: date = NOV1, end: date = NOV8, columns: list[str] | None = None) -> list:
    tables = list(reader.read(start, end))
    for table in tables:
        assert table.schema == SOURCE_SCHEMA
    result = [row for table in tables for row in table.to_pylist()]
    if columns:
        result = [{name: row[name] for name in columns} for row in result]
    return result


def ts(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def ea_table(dates: list, costs: list, **overrides) -> pa.Table:
    """EA PascalCase columns, one value per row for those not given."""
    count = len(dates)
    columns = {
        "Date": dates,
        "BillingAccountId": ["ea-123"] * count,
        "SubscriptionId": ["sub-1"] * count,
        "SubscriptionName": ["Web Prod"] * count,
        "ResourceGroup": ["rg-web"] * count,
        "ResourceId": [VM_ID] * count,
        "ResourceLocation": ["westeurope"] * count,
        "MeterCategory": ["Virtual Machines"] * count,
        "MeterSubCategory": ["Dv3/DSv3 Series"] * count,
        "MeterName": ["D2s v3"] * count,
        "ConsumedService": ["Microsoft.Compute"] * count,
        "Quantity": [24.0] * count,
        "UnitOfMeasure": ["1 Hour"] * count,
        "CostInBillingCurrency": costs,
        "BillingCurrencyCode": ["USD"] * count,
        "ChargeType": ["Usage"] * count,
        "PricingModel": ["OnDemand"] * count,
        "Tags": ['"team": "web","env": "prod"'] * count,
    }
    columns.update(overrides)
    return pa.table(columns)


def test_ea_parquet_actual_and_gzipped_csv_amortized(azurite, container):
    """Actual (Parquet, timestamp dates, double costs) and amortized (gzipped CSV, MM/DD/YYYY, decimal text)
    for the same month; the 8th is outside [1st, 8th) and not read.

    | export    | day | charge            | cost               | BilledCost    | EffectiveCost   |
    | actual    | 1st | VM usage          | 12.5               | 12.5          | 0               |
    | actual    | 2nd | RI purchase       | 123456.789         | 123456.789    | 0               |
    | amortized | 1st | VM usage          | 12.5               | 0             | 12.5            |
    | amortized | 2nd | RI-covered usage  | 169.123456789012345| 0             | 169.123456789012|
    | amortized | 2nd | unused RI         | 3.14               | 0             | 3.14            |
    invoice = 123469.289; amortized = 184.763456789012
    """
    actual = ea_table(
        [datetime(2026, 11, 1), datetime(2026, 11, 2), datetime(2026, 11, 8)],
        [12.5, 123456.789, 99.0],
        ChargeType=["Usage", "Purchase", "Usage"],
        Tags=['"team": "web","env": "prod"', "", '{"team": "web"}'],
        ResourceId=[VM_ID, "", VM_ID],
    )
    amortized = ea_table(
        ["11/01/2026", "11/02/2026", "11/02/2026"],
        ["12.5", "169.123456789012345", "3.14"],
        ChargeType=["Usage", "Usage", "UnusedReservation"],
        PricingModel=["OnDemand", "Reservation", "Reservation"],
        Quantity=["24", "24", "0"],
    )
    upload_run(container, "costs/actual", run("actual", "act-1", 3, {"part_0_0001.parquet": parquet_bytes(actual)}))
    upload_run(
        container,
        "costs/amortized",
        run("amortized", "amo-1", 4, {"part_0_0001.csv.gz": csv_gz_bytes(amortized)}, fmt="Csv"),
    )

    got = rows(reader_for(azurite, container))

    common: dict[str, Any] = {
        "ChargePeriodEnd": None,
        "BillingPeriodStart": ts(NOV1),
        "ListCost": None,
        "BillingCurrency": "USD",
        "Provider": "Microsoft Azure",
        "ServiceName": "Virtual Machines",
        "ServiceCategory": "Microsoft.Compute",
        "SubAccountId": "sub-1",
        "BillingAccountId": "ea-123",
        "ResourceId": VM_ID,
        "RegionId": "westeurope",
        "ConsumedQuantity": 24.0,
        "Tags": [("team", "web"), ("env", "prod")],
        "ResourceName": "web-01",
        "SubAccountName": "Web Prod",
        "ConsumedUnit": "1 Hour",
        "PricingCurrency": None,
        "PricingCurrencyEffectiveCost": None,
        "x_ProductCode": None,
        "x_UsageType": "Dv3/DSv3 Series / D2s v3",
        "x_Operation": None,
        "x_IamPrincipal": None,
        "x_Model": None,
        "x_TokenType": None,
    }

    def expect(day: date, billed: str, effective: str, category: str, line: str, **other) -> dict:
        row = {**common, "ChargePeriodStart": ts(day), "ChargePeriodEnd": ts(day + timedelta(days=1))}
        row.update(
            BilledCost=Decimal(billed),
            EffectiveCost=Decimal(effective),
            ChargeCategory=category,
            x_LineItemType=line,
            **other,
        )
        return row

    zero = "0.000000000000"
    assert got == [
        expect(NOV1, "12.500000000000", zero, "Usage", "Usage"),
        expect(
            NOV2, "123456.789000000000", zero, "Purchase", "Purchase", Tags=None, ResourceId=None, ResourceName=None
        ),
        expect(NOV1, zero, "12.500000000000", "Usage", "Usage"),
        expect(NOV2, zero, "169.123456789012", "Usage", "Usage"),
        expect(NOV2, zero, "3.140000000000", "Adjustment", "UnusedReservation", ConsumedQuantity=0.0),
    ]
    assert sum(r["BilledCost"] for r in got) == Decimal("123469.289")
    assert sum(r["EffectiveCost"] for r in got) == Decimal("184.763456789012")


def test_mca_camel_case_columns(azurite, container):
    """MCA exports name the same columns in camelCase (and some differently: billingCurrency,
    resourceGroupName); dates as ISO text with a time."""
    mca = pa.table(
        {
            "date": ["2026-11-03T00:00:00", "2026-11-03"],
            "billingAccountId": ["mca-9", "mca-9"],
            "subscriptionId": ["sub-7", "sub-7"],
            "subscriptionName": ["Data", "Data"],
            "resourceGroupName": ["rg-data", "rg-data"],
            "ResourceId": ["/subscriptions/sub-7/providers/Microsoft.Storage/storageAccounts/lake", None],
            "resourceLocation": ["northeurope", None],
            "meterCategory": ["Storage", "Storage"],
            "meterSubCategory": ["Hot LRS", None],
            "meterName": ["Write Operations", "Data Stored"],
            "consumedService": ["Microsoft.Storage", ""],
            "quantity": [5.0, 2.25],
            "unitOfMeasure": ["10K", "1 GB/Month"],
            "costInBillingCurrency": [0.275, 0.04],
            "billingCurrency": ["EUR", "EUR"],
            "chargeType": ["Usage", None],
            "tags": ['{"team":"data"}', None],
        }
    )
    upload_run(container, "costs/actual", run("actual", "mca-1", 1, {"part_0_0001.parquet": parquet_bytes(mca)}))

    got = rows(
        reader_for(azurite, container),
        NOV3,
        date(2026, 11, 4),
        [
            "ChargePeriodStart",
            "BilledCost",
            "BillingCurrency",
            "ServiceName",
            "ServiceCategory",
            "ChargeCategory",
            "SubAccountId",
            "SubAccountName",
            "BillingAccountId",
            "ResourceName",
            "RegionId",
            "ConsumedQuantity",
            "ConsumedUnit",
            "Tags",
            "x_UsageType",
        ],
    )
    assert got == [
        {
            "ChargePeriodStart": ts(NOV3),
            "BilledCost": Decimal("0.275000000000"),
            "BillingCurrency": "EUR",
            "ServiceName": "Storage",
            "ServiceCategory": "Microsoft.Storage",
            "ChargeCategory": "Usage",
            "SubAccountId": "sub-7",
            "SubAccountName": "Data",
            "BillingAccountId": "mca-9",
            "ResourceName": "lake",
            "RegionId": "northeurope",
            "ConsumedQuantity": 5.0,  # "10K" is not a token unit here: the quantity is kept as exported
            "ConsumedUnit": "10K",
            "Tags": [("team", "data")],
            "x_UsageType": "Hot LRS / Write Operations",
        },
        {
            "ChargePeriodStart": ts(NOV3),
            "BilledCost": Decimal("0.040000000000"),
            "BillingCurrency": "EUR",
            "ServiceName": "Storage",
            "ServiceCategory": None,
            "ChargeCategory": "Usage",  # no ChargeType: usage
            "SubAccountId": "sub-7",
            "SubAccountName": "Data",
            "BillingAccountId": "mca-9",
            "ResourceName": None,
            "RegionId": None,
            "ConsumedQuantity": 2.25,
            "ConsumedUnit": "1 GB/Month",
            "Tags": None,
            "x_UsageType": "Data Stored",
        },
    ]


def test_a_newer_run_of_the_month_replaces_the_older_one(azurite, container):
    """Month-to-date runs overwrite: the run submitted last wins each day it covers, whatever the upload
    order. run-1 (submitted 2nd 10:00) covers 1st-2nd: 1.00 and 2.00. run-2 (3rd 10:00) covers 1st-3rd: 10.00
    on the 1st and 30.00 on the 3rd (nothing on the 2nd any more). run-0 (1st 10:00, uploaded last) is older
    than both and never wins."""
    old = ea_table([datetime(2026, 11, 1), datetime(2026, 11, 2)], [1.0, 2.0])
    upload_run(
        container, "costs/actual", run("actual", "run-1", 10, {"part_0_0001.parquet": parquet_bytes(old)}, end=NOV2)
    )
    reader = reader_for(azurite, container)
    first = reader.versions(NOV1, NOV8)
    assert list(first) == [NOV1, NOV2]
    assert first[NOV1] == first[NOV2] and first[NOV1].startswith("run-1|-|")
    assert [r["BilledCost"] for r in rows(reader)] == [Decimal(1), Decimal(2)]

    new = ea_table([datetime(2026, 11, 1), datetime(2026, 11, 3)], [10.0, 30.0])
    upload_run(
        container, "costs/actual", run("actual", "run-2", 34, {"part_0_0001.parquet": parquet_bytes(new)}, end=NOV3)
    )
    stale = ea_table([datetime(2026, 11, 1)], [500.0])
    upload_run(
        container, "costs/actual", run("actual", "run-0", -14, {"part_0_0001.parquet": parquet_bytes(stale)}, end=NOV3)
    )

    second = reader.versions(NOV1, NOV8)
    assert list(second) == [NOV1, NOV2, NOV3]
    assert second[NOV1].startswith("run-2|-|") and second[NOV1] != first[NOV1] and second[NOV2] != first[NOV2]
    assert [(r["ChargePeriodStart"], r["BilledCost"]) for r in rows(reader)] == [
        (ts(NOV1), Decimal(10)),
        (ts(NOV3), Decimal(30)),
    ]
    assert reader.versions(NOV1, NOV8) == second  # unchanged data, unchanged versions


def test_azure_openai_deployment_and_account_rows(azurite, container):
    """Token meters under the three categories Azure has used; the model is what precedes the token word,
    units of 1K / 1M become tokens. Deployment-level ids name the deployment, account-level ids the account.

    | meter                                    | qty  | unit | tokens    | model            | type       |
    | gpt 4o 0513 Input global Tokens          | 12.5 | 1K   | 12,500    | gpt 4o 0513      | input      |
    | gpt-4o-mini-0718-Outp-glbl (subcategory) | 2    | 1M   | 2,000,000 | gpt-4o-mini-0718 | output     |
    | o1 cached Input regional Tokens          | 3    | 1K   | 3,000     | o1               | cache_read |
    """
    table = ea_table(
        ["11/01/2026"] * 3,
        [0.0625, 1.2, 0.0225],
        MeterCategory=["Azure OpenAI", "Cognitive Services", "Foundry Models"],
        MeterSubCategory=["gpt 4o 0513", "gpt-4o-mini-0718-Outp-glbl", "o1"],
        MeterName=["gpt 4o 0513 Input global Tokens", None, "o1 cached Input regional Tokens"],
        Quantity=[12.5, 2.0, 3.0],
        UnitOfMeasure=["1K", "1M", "1K"],
        ResourceId=[f"{AOAI_ACCOUNT}/deployments/team-a-gpt4o", AOAI_ACCOUNT, f"{AOAI_ACCOUNT}/deployments/team-b-o1/"],
        Tags=['"team": "a"', '"project": "chatbot"', '"team": "b"'],
    )
    upload_run(container, "costs/actual", run("actual", "ai-1", 1, {"part_0_0001.parquet": parquet_bytes(table)}))

    got = rows(
        reader_for(azurite, container),
        columns=["ServiceName", "ResourceName", "x_Model", "x_TokenType", "ConsumedQuantity", "ConsumedUnit", "Tags"],
    )
    assert got == [
        {
            "ServiceName": "Azure OpenAI",
            "ResourceName": "team-a-gpt4o",
            "x_Model": "gpt 4o 0513",
            "x_TokenType": "input",
            "ConsumedQuantity": 12500.0,
            "ConsumedUnit": "Tokens",
            "Tags": [("team", "a")],
        },
        {
            "ServiceName": "Cognitive Services",
            "ResourceName": "ai-shared",
            "x_Model": "gpt-4o-mini-0718",
            "x_TokenType": "output",
            "ConsumedQuantity": 2_000_000.0,
            "ConsumedUnit": "Tokens",
            "Tags": [("project", "chatbot")],
        },
        {
            "ServiceName": "Foundry Models",
            "ResourceName": "team-b-o1",
            "x_Model": "o1",
            "x_TokenType": "cache_read",
            "ConsumedQuantity": 3000.0,
            "ConsumedUnit": "Tokens",
            "Tags": [("team", "b")],
        },
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('"team": "a","env": "prod"', [("team", "a"), ("env", "prod")], id="no-braces"),
        pytest.param('{"team":"b"}', [("team", "b")], id="json-object"),
        pytest.param(
            ' { "cost-center" : "42" , "owner": "x@y.z" } ', [("cost-center", "42"), ("owner", "x@y.z")], id="spaces"
        ),
        pytest.param('"k": "a, b: c"', [("k", "a, b: c")], id="separators-inside-values"),
        pytest.param('{"q": "say \\"hi\\""}', [("q", 'say "hi"')], id="escaped-quote-via-json"),
        pytest.param('{"n": 5}', [("n", "5")], id="non-text-value"),
        pytest.param("not json", [("", "not json")], id="kept-whole"),
        pytest.param("", None, id="empty"),
        pytest.param("{}", None, id="empty-object"),
        pytest.param(None, None, id="null"),
    ],
)
def test_tags_parse(text, expected):
    assert parse_tags(pa.array([text], pa.string())).to_pylist() == [expected]


def test_tags_of_many_rows_keep_row_order():
    """Rows parsed the fast way and rows parsed through json interleave in their original order."""
    texts = ['"a": "1"', '{"b": "\\u0032"}', None, '"c": "3","d": "4"', "oops"]
    assert parse_tags(pa.array(texts)).to_pylist() == [
        [("a", "1")],
        [("b", "2")],
        None,
        [("c", "3"), ("d", "4")],
        [("", "oops")],
    ]


def test_csv_tags_with_doubled_quotes_and_bom(tmp_path: Path):
    """A CSV export quotes the tag text and doubles its quotes; the file starts with a byte-order mark."""
    text = '\ufeffDate,CostInBillingCurrency,Tags\r\n11/01/2026,1.25,"""team"": ""a"",""env"": ""dev"""\r\n'
    path = tmp_path / "part.csv"
    path.write_text(text, encoding="utf-8")
    (table,) = read_export_file(path, CostKind.ACTUAL, [NOV1], key="part.csv")
    assert table.select(["BilledCost", "Tags"]).to_pylist() == [
        {"BilledCost": Decimal("1.250000000000"), "Tags": [("team", "a"), ("env", "dev")]}
    ]


def _sig(sas_url: str) -> str:
    return parse_qs(urlsplit(sas_url).query)["sig"][0]


def _assert_secret_free(text: str, sas_url: str, *, error_message: bool = True) -> None:
    """The signature appears in no form; an error message does not even hold the SAS query's shape."""
    signature = _sig(sas_url)
    for form in (signature, unquote(signature), urlsplit(sas_url).query):
        assert form not in text
    if error_message:
        assert "sig=" not in text


def test_expired_sas_is_terminal_and_names_sas_url_without_the_token(azurite, container):
    upload_run(
        container,
        "costs/actual",
        run("actual", "x-1", 1, {"p.parquet": parquet_bytes(ea_table(["11/01/2026"], [1.0]))}),
    )
    expired = azurite.container_sas_url(container.container_name, expiry=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(TerminalImportError) as caught:
        reader_for(azurite, container, expired).versions(NOV1, NOV8)
    message = caught.value.message
    assert "`sas_url`" in message and "(AuthorizationFailure)" in message and "expired or been revoked" in message
    assert container.container_name in message
    _assert_secret_free(message, expired)


def test_revoked_sas_is_terminal_and_no_secret_reaches_logs(azurite, container, caplog):
    """A SAS bound to a stored access policy works until the policy is removed; everything logged at DEBUG
    (by the reader, the Azure SDK and urllib3, under the redaction every command runs with) and every error
    message is free of the signature."""
    table = ea_table(["11/01/2026"], [1.0])
    upload_run(container, "costs/actual", run("actual", "r-1", 1, {"p.parquet": parquet_bytes(table)}))
    azurite.set_policy(container.container_name, "import-read")
    sas_url = azurite.container_sas_url(container.container_name, policy_id="import-read")
    messages = []
    caplog.set_level(logging.DEBUG)
    with redacting():
        reader = reader_for(azurite, container, sas_url)
        assert [r["BilledCost"] for r in rows(reader)] == [Decimal(1)]
        azurite.set_policy(container.container_name, None)
        for call in (lambda: reader.versions(NOV1, NOV8), lambda: list(reader.read(NOV1, NOV8))):
            with pytest.raises(TerminalImportError) as caught:
                call()
            messages.append(caught.value.message)
    assert all("`sas_url`" in m and "(AuthorizationFailure)" in m for m in messages)
    assert any(record.name.startswith("urllib3") for record in caplog.records)  # the SDK did log its requests
    for message in messages:
        _assert_secret_free(message, sas_url)
    for text in [caplog.text, *(r.getMessage() for r in caplog.records)]:
        _assert_secret_free(text, sas_url, error_message=False)


def test_unreachable_storage_is_transient(azurite, container):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sas_url = azurite.container_sas_url(container.container_name).replace(f":{azurite.port}/", f":{port}/")
    reader = reader_for(azurite, container, sas_url, retry_total=0)
    with pytest.raises(TransientImportError) as caught:
        reader.versions(NOV1, NOV8)
    assert f"http://127.0.0.1:{port}/{ACCOUNT}/{container.container_name}" in caught.value.message
    _assert_secret_free(caught.value.message, sas_url)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda url: url.split("?")[0], "has no SAS token", id="no-token"),
        pytest.param(lambda url: "not a url", "is not a URL", id="not-a-url"),
        pytest.param(lambda url: url.replace("/exports", "/other"), "is not a SAS of container", id="other-container"),
    ],
)
def test_bad_sas_url_says_what_to_change(azurite, container, change, expected):
    sas_url = azurite.container_sas_url(container.container_name)
    with pytest.raises(TerminalImportError) as caught:
        reader_for(azurite, container, change(sas_url))
    assert expected in caught.value.message and "`sas_url`" in caught.value.message
    _assert_secret_free(caught.value.message, sas_url)


def test_overlapping_paths_are_refused(azurite, container):
    with pytest.raises(TerminalImportError, match="overlap"):
        AzureExportReader(
            ACCOUNT,
            container.container_name,
            "costs/",
            "costs/amortized",
            azurite.container_sas_url(container.container_name),
        )


def test_an_amortized_export_under_actuals_path_is_terminal(azurite, container):
    spec = run("amortized", "swap-1", 1, {"p.parquet": parquet_bytes(ea_table(["11/01/2026"], [1.0]))})
    upload_run(container, "costs/actual", spec)
    with pytest.raises(TerminalImportError, match="Swap `actuals_path` and `amortized_path`"):
        reader_for(azurite, container).versions(NOV1, NOV8)


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        pytest.param(
            pa.table({"Date": ["11/01/2026"], "MeterCategory": ["Storage"]}),
            "no column costinbillingcurrency",
            id="missing-cost",
        ),
        pytest.param(ea_table(["31/11/2026"], [1.0]), "holds '31/11/2026', not a date", id="bad-date"),
        pytest.param(ea_table(["11/01/2026"], [float("nan")]), "NaN", id="nan-cost"),
    ],
)
def test_a_file_that_is_not_a_usable_export_is_quarantined(azurite, container, table, reason):
    manifest = upload_run(container, "costs/actual", run("actual", "bad-1", 1, {"part.parquet": parquet_bytes(table)}))
    reader = reader_for(azurite, container)
    with pytest.raises(Quarantine) as caught:
        list(reader.read(NOV1, NOV8))
    assert reason in caught.value.reason
    assert caught.value.key == manifest.replace("manifest.json", "part.parquet")


def test_a_manifest_listing_a_missing_blob_is_quarantined(azurite, container):
    manifest = upload_run(
        container,
        "costs/actual",
        run("actual", "gone-1", 1, {"part.parquet": parquet_bytes(ea_table(["11/01/2026"], [1.0]))}),
    )
    container.delete_blob(manifest.replace("manifest.json", "part.parquet"))
    with pytest.raises(Quarantine) as caught:
        reader_for(azurite, container).versions(NOV1, NOV8)
    assert caught.value.key == manifest
    assert "not in the container" in caught.value.reason
