"""The shipped systemd unit read as a file: settings, syscall filter, credentials, timeouts."""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "tagger.service"


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Return section -> [(key, value)] in file order (keys may repeat in units)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        assert current is not None, f"setting outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line}"
        sections[current].append((key.strip(), value.strip()))
    return sections


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    parsed = parse_unit(UNIT.read_text())
    assert {"Unit", "Service", "Install"} <= parsed.keys()
    out: dict[str, list[str]] = {}
    for key, value in parsed["Service"]:
        out.setdefault(key, []).append(value)
    return out


EXACT = {
    "Type": "notify",
    "NotifyAccess": "main",
    "ExecStart": "/usr/local/bin/tagger run -c /etc/tagger/config.yaml",
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "DynamicUser": "yes",
    "StateDirectory": "tagger",
    "StateDirectoryMode": "0700",
    "ConfigurationDirectory": "tagger",
    "Restart": "on-failure",
    "UMask": "0077",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "NoNewPrivileges": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
}


@pytest.mark.parametrize(("key", "value"), sorted(EXACT.items()))
def test_required_setting(service: dict[str, list[str]], key: str, value: str) -> None:
    assert service.get(key) == [value]


def test_syscall_filter_allows_services_and_denies_privileged(
    service: dict[str, list[str]],
) -> None:
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]


def test_credentials_and_timeouts(service: dict[str, list[str]]) -> None:
    assert service["LoadCredential"] == [
        # The file tagger init writes, named as the credential {credential:} reads.
        "mimecast-client-secret:/etc/tagger/credentials/mimecast-client-secret"
    ]
    for key in ("WatchdogSec", "TimeoutStopSec", "RestartSec"):
        assert len(service[key]) == 1 and service[key][0]
    # The watchdog must outlast the default schedule (5 min interval + 10 min grace).
    watchdog = service["WatchdogSec"][0]
    assert watchdog.endswith("min") and int(watchdog[:-3]) > 15
    assert service["IPAddressDeny"]
