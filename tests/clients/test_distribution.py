"""The client distribution stays light: a booth PC installs it without the server's stack."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import boothcloud_client

CLIENT = Path(__file__).parents[2] / "clients" / "python"
SERVER_STACK = ("boothcloud", "fastapi", "starlette", "pydantic", "boto3", "botocore", "uvicorn")


def test_it_declares_httpx_and_nothing_else() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert [dep.split(">")[0].split("=")[0] for dep in project["dependencies"]] == ["httpx"]
    assert project["version"] == boothcloud_client.__version__


def test_its_modules_import_only_the_standard_library_httpx_and_itself() -> None:
    """The booth agent (`boothcloud_client.agent`) may also use its `agent` extra."""
    extras = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    agent_extra = {dep.split(">")[0].split("=")[0] for dep in extras["agent"]}
    package = CLIENT / "src" / "boothcloud_client"
    outside: set[str] = set()
    for module in package.rglob("*.py"):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
        allowed = {"httpx", "boothcloud_client"}
        if module.relative_to(package).parts[0] == "agent":
            allowed |= agent_extra
        outside |= imported - set(sys.stdlib_module_names) - allowed
    assert outside == set()
    assert (package / "py.typed").exists()


def test_importing_it_loads_none_of_the_server_stack() -> None:
    """In a fresh interpreter (this one has the server loaded): every public name, and not
    one module of the server's dependencies in `sys.modules` after."""
    probe = (
        "import sys, boothcloud_client as c\n"
        "[getattr(c, name) for name in c.__all__]\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_STACK!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
