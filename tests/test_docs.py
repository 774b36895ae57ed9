"""The docs stay true to the tree: what they name exists, and each README lists its surface.

Run by the suite, so a rename or a removal that leaves a doc behind fails there: every
backticked repository path in README.md, docs/ and the packages' READMEs exists; every
name an app's `interface.py` exports, every public module of a library, and every
management command is named in its package's README (and every command in README.md);
and nothing cites a file outside the repository.
"""

import ast
import re
from pathlib import Path

import pytest

from tests.test_architecture import LIBRARIES, PACKAGES, ROOT

DOCS = sorted(
    {
        ROOT / "README.md",
        *(ROOT / "docs").rglob("*.md"),
        *ROOT.glob("*/README.md"),
        *ROOT.glob("*/*/README.md"),
    }
    - set(ROOT.glob("tests/**/README.md"))
)
# What a run writes, not what the repository holds.
RUNTIME = ("var/", "reports/", ".venv/")
PATH = re.compile(r"\.?[\w\-]+(?:/[\w.\-]*)+|[\w\-/]+\.(?:py|md|toml|json|ya?ml|lua|txt)")
OUTSIDE = re.compile(r"\.\./shared|\b(?:DESIGN|STYLE)\.md\b")


def _backticked(text: str) -> list[str]:
    """What the text quotes as code, in pairs of backticks (a pair may span a line break);
    fenced blocks are examples, not names."""
    return re.findall(r"`([^`]+)`", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S))


def _in_a_package(filename: str) -> bool:
    return any(next((ROOT / package).rglob(filename), None) for package in PACKAGES)


def _readme(package: str) -> str:
    return (ROOT / package / "README.md").read_text()


def _names_in_all(module: Path) -> list[str]:
    """The module's `__all__`, read from its source (empty without one)."""
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return []


def _named(name: str, text: str) -> bool:
    """`name` is quoted as code: alone, or in a call, a path or a dotted name."""
    word = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
    return any(word.search(code) for code in _backticked(text))


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(ROOT)))
def test_every_path_a_doc_names_exists(doc):
    missing = [
        token
        for token in _backticked(doc.read_text())
        if PATH.fullmatch(token)
        and not token.startswith(("/", *RUNTIME))
        and ("/" in token or token.endswith(".py"))
        and not (ROOT / token).exists()
        and not (doc.parent / token).exists()
        and not ("/" not in token and _in_a_package(token))
    ]

    assert not missing, f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_no_doc_or_docstring_cites_a_file_outside_the_repository():
    sources = [*DOCS, *(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))]

    citing = [str(path.relative_to(ROOT)) for path in sources if OUTSIDE.search(path.read_text())]

    assert citing == [], "what a reader needs belongs in docs/"


@pytest.mark.parametrize("app", sorted(path.parent.name for path in ROOT.glob("*/interface.py")))
def test_an_apps_readme_lists_its_whole_interface(app):
    exported = _names_in_all(ROOT / app / "interface.py")

    unlisted = [name for name in exported if not _named(name, _readme(app))]

    assert exported, f"{app}/interface.py declares no __all__"
    assert not unlisted, f"{app}/README.md does not list {unlisted}"


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_a_librarys_readme_names_each_public_module_and_its_exports(library):
    readme = _readme(library)
    unnamed = []
    for module in sorted(LIBRARIES[library]):
        path = ROOT.joinpath(*module.split("."))
        source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        relative = str(source.relative_to(ROOT / library))
        if not (_named(module, readme) or _named(relative, readme)):
            unnamed.append(module)
        exported = _names_in_all(source)
        unnamed += [f"{module}.{name}" for name in exported if not _named(name, readme)]

    assert not unnamed, f"{library}/README.md does not name {unnamed}"


def test_every_management_command_is_in_its_packages_readme_and_in_readme_md():
    commands = {path.stem: path.parts[-4] for path in ROOT.glob("*/management/commands/[!_]*.py")}
    readme = (ROOT / "README.md").read_text()

    not_in_package = [
        name for name, package in commands.items() if not _named(name, _readme(package))
    ]
    not_in_readme = [name for name in commands if not _named(name, readme)]

    assert commands
    assert not not_in_package, f"missing from their package's README: {not_in_package}"
    assert not not_in_readme, f"missing from README.md's commands: {not_in_readme}"
