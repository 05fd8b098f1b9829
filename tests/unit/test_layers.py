"""Every import arrow points down: ``shared`` (contracts and plumbing) knows no service."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _top_level_packages() -> set[str]:
    return {path.parent.name for path in ROOT.glob("*/__init__.py")}


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (lazy imports in functions too), absolute."""
    package = path.relative_to(ROOT).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else ()
            found.add(".".join([*base, *([node.module] if node.module else [])]))
    return found


def test_the_service_packages_are_found_by_their_names():
    services = {name for name in _top_level_packages() if name.endswith("_service")}
    assert len(services) >= 5, services


def test_no_module_in_shared_imports_a_service_or_a_package_above_shared():
    # Above shared: the services, and the registry and tools that import them.
    forbidden = _top_level_packages() - {"shared", "tests"}
    offenders = [f"{path.relative_to(ROOT)} imports {module}"
                 for path in sorted((ROOT / "shared").rglob("*.py"))
                 for module in sorted(_imported_modules(path))
                 if module.split(".")[0] in forbidden]
    assert offenders == [], "shared must not import a service (or what imports one):\n" + \
        "\n".join(offenders)
