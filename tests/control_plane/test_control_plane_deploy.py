"""docs/deploy: the systemd unit starts the real console script with options `serve` has, restarts it, runs it as
a non-root user with its settings from an environment file whose every variable is a real setting.

(`systemd-analyze verify` is not required, nor installed: the unit is read as the INI file it is.)
"""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

from control_plane.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "docs" / "deploy"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "costory-control-plane.service").read_text())
    return parser


def serve_options() -> set[str]:
    """The options `costory-control-plane serve --help` lists, from the console script the project installs."""
    script = Path(sys.executable).parent / "costory-control-plane"
    assert script.exists(), f"{script} is missing: `make install` installs the console script"
    result = subprocess.run([script, "serve", "--help"], capture_output=True, text=True, timeout=60, check=True)
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", result.stdout))


def test_exec_start_runs_the_console_script_with_options_serve_has():
    exec_start = shlex.split(unit()["Service"]["ExecStart"])
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]

    assert Path(exec_start[0]).is_absolute() and Path(exec_start[0]).name in scripts
    assert scripts[Path(exec_start[0]).name] == "control_plane.cli:main"
    assert exec_start[1] == "serve"
    used = [word for word in exec_start[2:] if word.startswith("--")]
    assert used == ["--grpc-address", "--http-address"]
    assert set(used) <= serve_options()
    values = exec_start[3::2]
    assert all(re.fullmatch(r"[0-9.]+:\d+", value) for value in values)


def test_a_crash_is_restarted_and_the_process_is_bounded():
    service = unit()["Service"]

    assert service["Restart"] == "always"
    assert int(service["RestartSec"]) > 0
    assert service["User"] not in ("root", "0") and service["Group"] not in ("root", "0")
    assert int(service["LimitNOFILE"]) >= 4096
    assert re.fullmatch(r"\d+[KMGT]?", service["MemoryMax"])
    assert service["KillSignal"] == "SIGTERM"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_the_environment_file_holds_only_real_settings_and_loads():
    service = unit()["Service"]
    example = DEPLOY / "control-plane.env.example"
    assert service["EnvironmentFile"] == "/etc/costory/control-plane.env"

    names = re.findall(r"^#?(COSTORY_[A-Z0-9_]+)=", example.read_text(), flags=re.M)
    assert names and all(name.removeprefix("COSTORY_").lower() in Settings.model_fields for name in names)
    settings = Settings(_env_file=example)
    assert settings.database_url == "postgresql+psycopg://costory:change-me@db.internal:5432/costory"
    assert (settings.data_dir, settings.log_level) == (Path("/var/lib/costory/data"), "INFO")
