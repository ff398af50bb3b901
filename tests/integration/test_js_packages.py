"""The npm packages as an app gets them: `npm pack` of a checkout, beside the app's React."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import require_service

pytestmark = pytest.mark.node

CLIENTS = Path(__file__).resolve().parents[2] / "clients"
PACKAGES = {"client": CLIENTS / "js", "publisher": CLIENTS / "publisher"}
# Not the React of clients/js's devDependencies (19): a second copy would show.
APP_REACT = "18.3.1"
NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET")


def npm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run npm quietly; fail with its output when it fails."""
    npm_path = shutil.which("npm")
    assert npm_path is not None
    result = subprocess.run(
        [npm_path, *args, "--no-audit", "--no-fund"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0 and any(code in result.stderr for code in NETWORK_ERRORS):
        require_service("the npm registry", result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, f"npm {' '.join(args)}: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`npm pack` of each package, as `make js-packages` does (prepack builds dist/)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        require_service("Node.js and npm", "`node` or `npm` is not on PATH")
    for name, folder in PACKAGES.items():
        if not (folder / "node_modules" / "typescript").is_dir():
            require_service(
                f"@tocsin/{name} build tools",
                f"run `npm ci --prefix {folder.relative_to(CLIENTS.parent)}`",
            )
    out = tmp_path_factory.mktemp("tarballs")
    made = {}
    for name, folder in PACKAGES.items():
        version = json.loads((folder / "package.json").read_text())["version"]
        npm("pack", "--silent", "--pack-destination", str(out), cwd=folder)
        made[name] = out / f"tocsin-{name}-{version}.tgz"
        assert made[name].is_file(), sorted(p.name for p in out.iterdir())
    return made


def members(tarball: Path) -> set[str]:
    with tarfile.open(tarball) as archive:
        return {name.removeprefix("package/") for name in archive.getnames()}


def test_the_tarballs_hold_the_built_package(tarballs: dict[str, Path]) -> None:
    client, publisher = members(tarballs["client"]), members(tarballs["publisher"])
    assert {
        "package.json",
        "README.md",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/react/index.js",
        "dist/react/index.d.ts",
    } <= client
    assert {"package.json", "README.md", "dist/index.js", "dist/index.d.ts"} <= publisher
    for files in (client, publisher):
        assert not {name for name in files if name.startswith(("src/", "test/", "node_modules/"))}


def react_copies(tree: dict[str, Any], path: str = "") -> list[tuple[str, str]]:
    """Every installed `react` in an `npm ls --json --all` tree: (where, version)."""
    found = []
    for name, node in (tree.get("dependencies") or {}).items():
        where = f"{path}/{name}"
        if name == "react" and not node.get("missing"):
            found.append((where, node.get("version", "?")))
        found.extend(react_copies(node, where))
    return found


def test_an_app_installs_both_with_one_react(tmp_path: Path, tarballs: dict[str, Path]) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(
        json.dumps({"name": "app", "private": True, "type": "module"})
    )
    npm(
        "install",
        "--prefer-offline",
        f"react@{APP_REACT}",
        f"react-dom@{APP_REACT}",
        str(tarballs["client"]),
        str(tarballs["publisher"]),
        cwd=app,
    )

    tree = json.loads(npm("ls", "react", "--all", "--json", cwd=app).stdout)
    versions = {version for _, version in react_copies(tree)}
    assert versions == {APP_REACT}, react_copies(tree)
    assert not (app / "node_modules/@tocsin/client/node_modules/react").exists()

    check = """
    import { createRequire } from "node:module";
    const require = createRequire(import.meta.url);
    const fromClient = createRequire(require.resolve("@tocsin/client/package.json"));
    const publisher = await import("@tocsin/publisher");
    const react = await import("@tocsin/client/react");
    console.log(JSON.stringify({
      app: require.resolve("react"),
      client: fromClient.resolve("react"),
      publisher: ["createPublisher", "notifyEmailReceived", "emitToUser"]
        .filter((name) => typeof publisher[name] === "function"),
      react: ["useWebSocket", "NotificationCenter"].filter((name) => name in react),
    }));
    """
    (app / "check.mjs").write_text(check)
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, "check.mjs"], cwd=app, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["client"] == seen["app"] == str(app / "node_modules/react/index.js")
    assert seen["publisher"] == ["createPublisher", "notifyEmailReceived", "emitToUser"]
    assert seen["react"] == ["useWebSocket", "NotificationCenter"]
