"""The container image and the Compose example read as files: structure, paths, no secrets.

Docker is not needed: the Dockerfile's instructions, the ``.dockerignore``
allow-list, ``deploy/compose.yaml``, its env example and ``deploy/config.yaml``
are parsed and checked against the checkout (the paths the image copies
exist and reach the builder, its user is not root, its commands parse with
tagger's own parser, no password is written in any of them).
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tagger.cli.main import build_parser
from tests.support.dockerfile import DockerIgnore, healthcheck_command, instructions

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NODES = ("tagger-a", "tagger-b")
# A URL carrying a password: scheme://user:password@host.
URL_WITH_PASSWORD = re.compile(r"\w+://[^/\s:@]+:[^/\s@]+@")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|DSN|_KEY\b", re.IGNORECASE)


# -- Dockerfile ------------------------------------------------------------------------------


def env_values(word: str) -> dict[str, str]:
    """Return the names and values every ``ENV`` (or ``ARG``, ``LABEL``) instruction sets."""
    out: dict[str, str] = {}
    for command in instructions(word):
        if word == "ARG":
            for item in command.value:
                name, _, value = item.partition("=")
                out[name] = value
        else:
            out.update(zip(command.value[::2], command.value[1::2], strict=True))
    return out


def test_the_image_is_python_311_slim_in_two_stages() -> None:
    froms = instructions("FROM")
    assert len(froms) == 2
    assert env_values("ARG")["PYTHON_IMAGE"] == "python:3.11-slim"
    assert all(f.value[0] == "${PYTHON_IMAGE}" for f in froms)
    assert froms[0].value[1:] == ("AS", "build")


def test_it_installs_the_checkout_with_the_postgresql_extra() -> None:
    run = " ".join(c.value[0] for c in instructions("RUN"))
    assert "pip install '.[postgresql]'" in run
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(dep.startswith("psycopg") for dep in extras["postgresql"])


def test_every_copied_path_exists_and_reaches_the_builder() -> None:
    ignore = DockerIgnore.read(ROOT / ".dockerignore")
    copied = 0
    for command in instructions("COPY"):
        if any(flag.startswith("--from=") for flag in command.flags):
            continue
        for source in command.value[:-1]:
            path = ROOT / source
            assert path.exists(), f"the Dockerfile copies {source}, which does not exist"
            files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            kept = [f for f in files if not ignore.excluded(f.relative_to(ROOT).as_posix())]
            assert kept, f".dockerignore keeps {source} from the builder"
            copied += 1
    assert copied >= 5


def test_the_package_build_finds_what_setup_py_ships() -> None:
    """setup.py copies these into the wheel: a build from the context must find them."""
    ignore = DockerIgnore.read(ROOT / ".dockerignore")
    text = (ROOT / "setup.py").read_text()
    shipped = re.search(r"SHIPPED = \((.*?)\n\)", text, re.S)
    assert shipped is not None
    names = re.findall(r'^\s*"([^"]+)",', shipped.group(1), re.M)
    assert "systemd/tagger.service" in names
    for name in [*names, "pyproject.toml", "setup.py", "README.md", "tagger/__init__.py"]:
        path = ROOT / name
        probe = next(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else path
        assert not ignore.excluded(probe.relative_to(ROOT).as_posix()), name


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "state/tagger.db",
        "deploy/tagger.env",
        "deploy/credentials/postgres-password",
        "deploy/credentials/mimecast-client-secret",
        "tests/conftest.py",
        "tagger/skel/config.example.yaml",
        "tagger/__pycache__/cli.cpython-311.pyc",
    ],
)
def test_the_build_context_leaves_out(path: str) -> None:
    assert DockerIgnore.read(ROOT / ".dockerignore").excluded(path)


def test_the_user_is_not_root() -> None:
    users = instructions("USER")
    assert users, "no USER: the container would run as root"
    user = users[-1].value[0].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric uid, so that runAsNonRoot can verify it"
    run = " ".join(c.value[0] for c in instructions("RUN"))
    assert f"--uid {user}" in run


def test_entrypoint_and_command_run_the_daemon_on_the_mounted_config() -> None:
    (entrypoint,) = instructions("ENTRYPOINT")
    (command,) = instructions("CMD")
    (volume,) = instructions("VOLUME")
    assert entrypoint.json and entrypoint.value == ("tagger",)
    assert command.json and command.value == ("run", "--config", "/etc/tagger/config.yaml")
    args = build_parser().parse_args(list(command.value))
    assert args.config == "/etc/tagger/config.yaml"
    assert volume.value == ("/var/lib/tagger",)


def test_the_healthcheck_runs_status_check_and_maps_its_codes() -> None:
    command = healthcheck_command()
    tagger_part = command.split(";")[0]
    words = shlex.split(tagger_part)
    assert words[0] == "tagger"
    args = build_parser().parse_args(words[1:])
    assert args.check is True
    # Nagios 0/1 (OK, WARNING) healthy; 2/3 unhealthy, as Docker's 1 (2 is reserved).
    assert command.endswith("test $? -le 1")
    # status --check finds the config through TAGGER_CONFIG, whatever command runs.
    assert env_values("ENV")["TAGGER_CONFIG"] == "/etc/tagger/config.yaml"


def test_no_secret_is_baked_into_the_image() -> None:
    for word in ("ENV", "ARG", "LABEL"):
        for name in env_values(word):
            assert not SECRET_NAME.search(name), f"{word} {name}: secrets come at run time"
    text = (ROOT / "Dockerfile").read_text()
    assert not URL_WITH_PASSWORD.search(text)
    for command in instructions("COPY"):
        assert not any("credentials" in v or ".env" in v for v in command.value)


def test_the_dockerignore_reader_itself() -> None:
    rules = DockerIgnore.read(ROOT / ".dockerignore")
    assert rules.excluded("anything.txt")
    assert not rules.excluded("tagger/cli/main.py")
    assert rules.excluded("tagger/cli/__pycache__/main.cpython-311.pyc")


# -- Compose ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def strings(value: object) -> list[str]:
    """Return every string inside ``value`` (keys and values, nested)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_has_postgresql_15_and_two_nodes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", *NODES}
    postgres = services["postgres"]
    assert postgres["image"].split(":")[1].split(".")[0] == "15"
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    check = postgres["healthcheck"]["test"]
    assert check[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(check)
    volumes = set(compose["volumes"])
    assert {str(v).split(":")[0] for v in postgres["volumes"]} <= volumes


def test_the_nodes_differ_in_name_and_state_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    names = [environment(services[n])["TAGGER_NODE"] for n in NODES]
    assert names == list(NODES) and len(set(names)) == 2
    mounts = []
    for node in NODES:
        service = services[node]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["build"]["context"] == ".."
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        ro = sorted(v for v in service["volumes"] if str(v).endswith(":ro"))
        targets = {v.split(":")[1] for v in ro}
        assert targets == {"/etc/tagger/config.yaml", "/etc/tagger/rules"}
        for volume in ro:
            assert (DEPLOY / volume.split(":")[0]).exists(), volume
        mounts.append(ro)
        state = [v for v in service["volumes"] if str(v).split(":")[1] == "/var/lib/tagger"]
        assert len(state) == 1 and state[0].split(":")[0] in compose["volumes"]
    assert mounts[0] == mounts[1], "both nodes must read the same config and rules"
    states = {
        v.split(":")[0] for n in NODES for v in services[n]["volumes"] if "/var/lib/tagger" in v
    }
    assert len(states) == 2, "each node keeps its own local state"


def test_no_password_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    for text in strings(compose):
        assert not URL_WITH_PASSWORD.search(text), text
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert key.endswith("_FILE") and value.startswith("/run/secrets/"), (name, key)
        assert "TAGGER_DSN" not in environment(service)
    for node in NODES:
        env_files = compose["services"][node]["env_file"]
        assert env_files == ["tagger.env"]
    for secret in compose["secrets"].values():
        assert set(secret) == {"file"}
        assert secret["file"].startswith("./credentials/")


def test_secret_files_are_kept_out_of_git_and_have_an_example(compose: dict[str, Any]) -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/deploy/tagger.env" in ignored
    assert "/deploy/credentials/" in ignored
    example = (DEPLOY / "tagger.env.example").read_text()
    (line,) = [x for x in example.splitlines() if x.startswith("TAGGER_DSN=")]
    dsn = urlsplit(line.split("=", 1)[1])
    pg = environment(compose["services"]["postgres"])
    # The example DSN points at the Compose service with its user and database.
    assert dsn.scheme == "postgresql"
    assert dsn.hostname == "postgres" and dsn.port == 5432
    assert dsn.username == pg["POSTGRES_USER"] and dsn.path == "/" + pg["POSTGRES_DB"]
    assert dsn.password == "CHANGE-ME"


# -- deploy/config.yaml ----------------------------------------------------------------------


def test_the_example_config_names_the_cluster_keys(compose: dict[str, Any]) -> None:
    """The keys of docs/cluster.md; ``tagger validate`` takes over once the schema has them."""
    config = yaml.safe_load((DEPLOY / "config.yaml").read_text(encoding="utf-8"))
    assert config["state"] == {"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}}
    assert set(config["cluster"]) <= {"node", "lease", "renew"}
    assert config["cluster"]["lease"] == "20s" and config["cluster"]["renew"] == "5s"
    # State and audit live in the node's volume; the config folder is read-only.
    assert config["state_path"] == {"state_directory": "state.db"}
    assert "state_directory" in config["audit"]["path"]
    # Every credential it names is a Docker secret the nodes receive.
    named = re.findall(r"\{credential: ([\w.-]+)\}", (DEPLOY / "config.yaml").read_text())
    for node in NODES:
        assert set(named) <= set(compose["services"][node]["secrets"])
        assert environment(compose["services"][node])["CREDENTIALS_DIRECTORY"] == "/run/secrets"
    for pattern in config["rules"]:
        assert list(DEPLOY.glob(pattern)), f"{pattern} matches no rule file in deploy/"


# -- systemd ---------------------------------------------------------------------------------


def test_the_unit_shows_both_ways_to_give_a_node_its_dsn() -> None:
    unit = (ROOT / "systemd" / "tagger.service").read_text().splitlines()
    assert "#LoadCredential=tagger-dsn:/etc/tagger/credentials/tagger-dsn" in unit
    assert "#EnvironmentFile=/etc/tagger/tagger.env" in unit
    example = (ROOT / "systemd" / "tagger.env.example").read_text()
    assert "install -m 0600 -o root" in example
    values = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    assert set(values) == {"TAGGER_DSN", "TAGGER_NODE"}
    dsn = urlsplit(values["TAGGER_DSN"])
    assert dsn.password == "CHANGE-ME"
    assert "sslmode=verify-full" in dsn.query
