"""`hwc send`'s own state file: its ECDSA signing key and, per server, the pinned log key and
the last key log head it verified per organisation (docs/keylog.md). Readable by its owner
only (mode 0600)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from server.envelope import (
    b64u_decode,
    b64u_encode,
    load_private_key_raw,
    private_key_raw,
    public_key_raw,
)
from server.keylog import machine_device_id

DEFAULT_PATH = "~/.config/hwc/send-state.json"


class StateFileError(Exception):
    """The state file cannot be used; the message is Dutch, for the person at the system."""


def default_path() -> Path:
    return Path(os.environ.get("HWC_STATE") or DEFAULT_PATH).expanduser()


@dataclass
class ClientState:
    path: Path
    signing_key: ec.EllipticCurvePrivateKey
    # server URL -> {"log_key": pinned the first time seen, "heads": {org: {size, hash}}}
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def signer_device(self) -> str:
        """The id this machine signs as in envelope version 3 (docs/envelope.md), made from its
        signing key, so it is the same on every send; 22 characters of the key log's form."""
        return machine_device_id(self.sig_key)

    @property
    def sig_key(self) -> str:
        """The public half, as the key log writes it."""
        return b64u_encode(public_key_raw(self.signing_key))

    def _server(self, url: str) -> dict[str, Any]:
        return self.servers.setdefault(url, {"log_key": None, "heads": {}})

    def log_key(self, url: str) -> str | None:
        return self._server(url)["log_key"]  # type: ignore[no-any-return]

    def pin(self, url: str, log_key: str) -> None:
        self._server(url)["log_key"] = log_key
        self.save()

    def remembered(self, url: str, org_id: str) -> tuple[int, str] | None:
        head = self._server(url)["heads"].get(org_id)
        return None if head is None else (int(head["size"]), str(head["hash"]))

    def remember(self, url: str, head: dict[str, Any]) -> None:
        self._server(url)["heads"][head["org"]] = {"size": head["size"], "hash": head["hash"]}
        self.save()

    def registered_org(self, url: str) -> str | None:
        """The organisation this system's key was registered for at `url` (hwc register-key)."""
        org_id = self._server(url).get("machine_org")
        return None if org_id is None else str(org_id)

    def register(self, url: str, org_id: str) -> None:
        self._server(url)["machine_org"] = org_id
        self.save()

    def save(self) -> None:
        data = {
            "signing_key": b64u_encode(private_key_raw(self.signing_key)),
            "servers": self.servers,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.path.with_name(self.path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        os.replace(partial, self.path)


def load(path: Path | None = None) -> ClientState:
    """The state at `path` (default HWC_STATE), made with a fresh signing key the first time."""
    path = path or default_path()
    if not path.exists():
        state = ClientState(path, ec.generate_private_key(ec.SECP256R1()))
        state.save()
        return state
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise StateFileError(
            f"Het bestand {path} is leesbaar voor anderen. Maak het alleen voor uzelf leesbaar "
            f"(chmod 600 {path}) en probeer het opnieuw."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        key = load_private_key_raw(b64u_decode(data["signing_key"]))
        return ClientState(path, key, dict(data.get("servers") or {}))
    except (ValueError, KeyError, TypeError):
        raise StateFileError(f"Het bestand {path} is beschadigd.") from None
