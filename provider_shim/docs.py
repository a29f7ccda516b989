"""Write the provider's reference docs (registry layout under docs/) from the derived schema.

``python -m provider_shim.docs`` regenerates them; a test fails when they are out of date, so the docs
say exactly what the proto declares.
"""

from __future__ import annotations

import sys
from pathlib import Path

from provider_shim import cty
from provider_shim.schema import Attribute, TerraformType, provider_schema

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
EXAMPLES = REPO / "examples" / "terraform" / "reference"


def _type_name(ty: cty.Type) -> str:
    if isinstance(ty, cty.List):
        inner = ty.element
        return "List of Object" if isinstance(inner, cty.Object) else f"List of {_type_name(inner)}"
    if isinstance(ty, cty.Object):
        return "Object"
    if isinstance(ty, cty.Map):
        return f"Map of {_type_name(ty.element)}"
    return str(cty.type_to_json(ty)).capitalize()


def _bullets(attributes: tuple[Attribute, ...]) -> list[str]:
    lines = []
    for a in attributes:
        notes = [_type_name(a.type)]
        if a.sensitive:
            notes.append("Sensitive")
        if a.requires_replace:
            notes.append("Forces replacement")
        lines.append(f"- `{a.name}` ({', '.join(notes)}) {a.description}")
    return lines


def _section(title: str, attributes, level: int = 3) -> list[str]:
    return [f"{'#' * level} {title}", "", *_bullets(tuple(attributes)), ""] if attributes else []


def _nested(attributes: tuple[Attribute, ...], parent: str) -> list[str]:
    """A "Nested Schema" section per message attribute, depth first (`rules`, `rules.conditions`, ...)."""
    out: list[str] = []
    for a in attributes:
        if a.nested:
            path = f"{parent}{a.name}"
            out += [f"### Nested Schema for `{path}`", ""]
            out += _section("Required", [n for n in a.nested if n.required], level=4)
            out += _section("Optional", [n for n in a.nested if not n.required], level=4)
            out += _nested(a.nested, f"{path}.")
    return out


def render(terraform_type: TerraformType, kind: str, example: str) -> str:
    attributes = terraform_type.attributes
    out = [
        f"# {terraform_type.type_name} ({kind})",
        "",
        terraform_type.description,
        "",
        "## Example",
        "",
        "```hcl",
        example.strip(),
        "```",
        "",
        "## Schema",
        "",
    ]
    out += _section("Required", [a for a in attributes if a.required])
    out += _section("Optional", [a for a in attributes if a.optional and not a.required])
    out += _section("Read-Only", [a for a in attributes if a.computed and not (a.required or a.optional)])
    out += _nested(attributes, "")
    if kind == "Resource" and any(a.name == "id" for a in attributes):
        out += ["## Import", "", "```shell", f"terraform import {terraform_type.type_name}.example <id>", "```", ""]
    return "\n".join(out).rstrip() + "\n"


def example(type_name: str) -> str:
    """The HCL example of a type: examples/terraform/reference/<type_name>.tf (validated by a test)."""
    path = EXAMPLES / f"{type_name}.tf"
    return path.read_text() if path.exists() else ""


def _short(type_name: str) -> str:
    return type_name.removeprefix("costory_")


def _contents() -> str:
    """The index's list of every page: resources, data sources, and what each billing source reads."""
    schema = provider_schema()
    lines = ["", "## Resources", ""]
    lines += [f"- [`{n}`](resources/{_short(n)}.md)" for n in sorted(schema.resources)]
    lines += ["", "## Data Sources", ""]
    lines += [f"- [`{n}`](data-sources/{_short(n)}.md)" for n in sorted(schema.data_sources)]
    sources = sorted((DOCS / "sources").glob("*.md"))
    if sources:
        lines += ["", "## Billing sources: what is read and how it maps", ""]
        lines += [f"- [{page.stem}](sources/{page.name})" for page in sources]
    guides = [(DOCS / name, title) for name, title in GUIDES if (DOCS / name).exists()]
    if guides:
        lines += ["", "## How it behaves", ""]
        lines += [f"- [{title}]({path.name})" for path, title in guides]
    return "\n".join(lines) + "\n"


GUIDES = (
    ("forecast.md", "Budgets' forecast, alert conditions and notification keys"),
    ("notifications.md", "Notifications: Slack and email delivery, retries, exactly once"),
    ("mcp.md", "The MCP server: tools, stdio and HTTP"),
)
"""Pages of docs/ about the control plane's behaviour, listed in the index."""


def documents() -> dict[Path, str]:
    schema = provider_schema()
    docs = {Path("index.md"): render(schema.provider, "Provider", example(schema.provider.type_name)) + _contents()}
    for name, t in sorted(schema.resources.items()):
        docs[Path("resources") / f"{_short(name)}.md"] = render(t, "Resource", example(name))
    for name, t in sorted(schema.data_sources.items()):
        docs[Path("data-sources") / f"{_short(name)}.md"] = render(t, "Data Source", example(name))
    return docs


def write(root: Path = DOCS) -> None:
    for rel, text in documents().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS)
