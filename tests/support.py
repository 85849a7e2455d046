"""Test support: real servers on loopback, and a small world of people with enrolled devices."""

from __future__ import annotations

import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec

from bench.common import HOST, free_port
from bench.procs import ROOT, Proc
from server import auth, directory, keylog
from server import db as database
from server.envelope import (
    b64u_decode,
    b64u_encode,
    decode_content,
    decrypt_envelope,
    encode_content,
    encrypt_envelope,
    generate_device_key,
)
from server.models import NewOrg, NewPerson


def free_socket() -> socket.socket:
    """A bound loopback socket, so the port is known before the app is made."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def base_url_of(sock: socket.socket, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def serving(
    app: Any, sock: socket.socket, lifespan: str = "on", tls: tuple[Path, Path] | None = None
) -> Iterator[str]:
    """Run `app` with uvicorn in a background thread on `sock` (https with `tls`: certificate
    and key files); yield its base URL."""
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        ws="none",
        access_log=False,
        log_level="warning",
        ssl_certfile=tls and str(tls[0]),
        ssl_keyfile=tls and str(tls[1]),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):  # up to 10 s; usually a few ms
            if server.started or not thread.is_alive():
                break
            time.sleep(0.01)
        if not server.started:
            raise RuntimeError("server did not start")
        yield base_url_of(sock, "https" if tls else "http")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def procfile_web_command() -> str:
    """The Procfile's `web:` command, as a platform runs it (with a shell, $PORT set)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise AssertionError("the Procfile has no web: line")


# How a deployment starts the server: `hwc serve` (the README), or the Procfile's command.
SERVE_COMMANDS: dict[str, Callable[[int], list[str]]] = {
    "hwc serve": lambda port: [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
    "Procfile": lambda port: ["bash", "-c", "exec " + procfile_web_command()],
}


@dataclass
class ServerProcess:
    """A real server process on loopback; what it wrote is read once it has stopped."""

    url: str
    stdout: Path
    stderr: Path

    def output(self) -> tuple[str, str]:
        return self.stdout.read_text(), self.stderr.read_text()


@contextmanager
def server_process(
    db_path: Path, command: str = "hwc serve", **env: str
) -> Iterator[ServerProcess]:
    """Start the server as a deployment does (SERVE_COMMANDS) on db_path, until /healthz
    answers; SIGTERM at the end. Its stdout and stderr are kept apart."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    process = Proc(
        command.replace(" ", "-"),
        SERVE_COMMANDS[command](port),
        {
            "HWC_DATABASE": str(db_path),
            "HWC_BASE_URL": url,
            "PORT": str(port),
            "PYTHONPATH": str(ROOT),
            **env,
        },
        port,
        str(db_path.parent),
        stderr_apart=True,
    )
    with process:
        yield ServerProcess(url, Path(process.log_path), Path(str(process.stderr_path)))


@contextmanager
def hwc_serve(tmp_path: Path, **env: str) -> Iterator[str]:
    """`hwc serve` in a process of its own, as the Procfile runs it, on a loopback port with a
    database in tmp_path. Yields its base URL."""
    with server_process(tmp_path / "serve.db", **env) as server:
        yield server.url


@dataclass
class Device:
    """An enrolled device as a test holds it: its own key and its own cookie jar."""

    person_id: str
    role: str
    http: httpx.Client
    private_key: ec.EllipticCurvePrivateKey
    public_key: bytes
    device_id: str = ""
    credential: str = ""
    sig_private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    pending: bool = False

    @property
    def sig_key(self) -> str:
        return keylog.public_b64u(self.sig_private)

    def approve(self, new: Device, org_id: str) -> httpx.Response:
        """Sign the pending device's keys, as the person's app does after comparing codes."""
        statement = keylog.approval_statement(
            org_id, new.person_id, new.device_id, b64u_encode(new.public_key), new.sig_key
        )
        approval = keylog.sign(self.sig_private, statement)
        return self.post(f"/api/me/devices/{new.device_id}/approve", {"approval": approval})

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, json=json, **kwargs)

    def open(self, signal_id: str) -> dict[str, str]:
        response = self.post(f"/api/signals/{signal_id}/open")
        assert response.status_code == 200, response.text
        plaintext = decrypt_envelope(
            self.private_key, signal_id, self.device_id, response.json()["envelope"]
        )
        return decode_content(plaintext)


def seal(
    devices: list[dict], signal_id: str, name: str, birth_date: str, **signed: Any
) -> list[dict]:
    """Encrypt the content to each {device_id, public_key} as the sending app does; `signed`:
    encrypt_envelope's head, signing_key, signer and origin (versions 2 and 3)."""
    content = encode_content(name, birth_date)
    return [
        {
            "device_id": d["device_id"],
            "envelope": encrypt_envelope(
                b64u_decode(d["public_key"]), signal_id, d["device_id"], content, **signed
            ),
        }
        for d in devices
    ]


def new_signal_id() -> str:
    return b64u_encode(secrets.token_bytes(16))


@dataclass
class World:
    """Organisations and people made directly in the database, devices enrolled over HTTP."""

    app: Any
    url: str
    clients: list[httpx.Client] = field(default_factory=list)

    _db: Any = None
    # Each person's first device: it approves that person's further ones (see `device`).
    first_devices: dict[str, Device] = field(default_factory=dict)

    @property
    def db(self) -> Any:
        """The test's own connection to the app's database file, as a second process would
        have: it sees what the server committed (the server's one connection is its own)."""
        if self._db is None:
            self._db = database.connect(self.app.state.settings.database)
        return self._db

    def now(self) -> float:
        return float(self.app.state.clock.now())

    def org(self, kind: str = "school", name: str = "Basisschool De Regenboog", **kw: Any) -> str:
        if kind == "school":
            kw.setdefault("code", "S" + secrets.token_hex(3).upper())
            kw.setdefault("region", "midden")
        return directory.create_org(self.db, NewOrg(kind=kind, name=name, **kw), self.now())

    def person(
        self,
        role: str,
        org_id: str | None,
        name: str = "",
        class_label: str = "",
        region_id: str | None = None,
    ) -> str:
        return directory.create_person(
            self.db,
            NewPerson(
                name=name or f"{role.title()} {secrets.token_hex(2)}",
                role=role,
                org_id=org_id,
                class_label=class_label,
                region_id=region_id,
            ),
            self.now(),
        )

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        client = httpx.Client(
            base_url=self.url, headers={"X-HWC": "1", **(headers or {})}, timeout=10.0
        )
        self.clients.append(client)
        return client

    def enrol_link_token(self, person_id: str) -> str:
        return auth.make_enrol_token(
            self.db, self.app.state.secret_key, person_id, None, self.now(), 7
        )

    def device(
        self,
        person_id: str,
        push: dict | None = None,
        token: str | None = None,
        approve: bool = True,
    ) -> Device:
        """Enrol a new device over HTTP, with a fresh enrolment token unless one is given. A
        person's further device waits for approval; the first device approves it unless
        `approve` is False (then it stays pending)."""
        device = self.enrol(person_id, push, token)
        if not device.pending:
            self.first_devices[person_id] = device
        elif approve:
            person = directory.person(self.db, person_id)
            response = self.first_devices[person_id].approve(device, person["org_id"])
            assert response.status_code == 200, response.text
            device.pending = False
        return device

    def enrol(self, person_id: str, push: dict | None = None, token: str | None = None) -> Device:
        """Only the enrolment request: a device, maybe pending (`device.pending`)."""
        private_key, public_key = generate_device_key()
        role = directory.person(self.db, person_id)["role"]
        device = Device(person_id, role, self.client(), private_key, public_key)
        response = device.post(
            "/api/enrol",
            json={
                "token": token or self.enrol_link_token(person_id),
                "public_key": b64u_encode(public_key),
                "sig_key": device.sig_key,
                "label": f"telefoon {role}",
                "push": push,
            },
        )
        assert response.status_code == 201, response.text
        device.device_id = response.json()["device"]["id"]
        device.pending = response.json()["pending"]
        # httpx sends a Secure cookie only over https; carry it by hand on loopback http.
        device.credential = response.cookies[auth.COOKIE]
        device.http.cookies = httpx.Cookies({auth.COOKIE: device.credential})
        # Back at once with the credential, as the app is: the link is spent for good.
        assert device.get("/api/me").status_code == 200
        return device

    def member(self, role: str, org_id: str | None, **kw: Any) -> Device:
        return self.device(self.person(role, org_id, **kw))

    def send(
        self,
        sender: Device,
        recipient_id: str,
        name: str,
        birth_date: str,
        signal_id: str | None = None,
    ) -> httpx.Response:
        signal_id = signal_id or new_signal_id()
        devices = sender.get(f"/api/schools/{recipient_id}/recipients").json()["devices"]
        return sender.post(
            "/api/signals",
            json={
                "id": signal_id,
                "recipient_id": recipient_id,
                "envelopes": seal(devices, signal_id, name, birth_date),
            },
        )

    def forward(
        self,
        contact: Device,
        signal_id: str,
        school_id: str,
        teacher_ids: list[str],
        name: str,
        birth_date: str,
    ) -> httpx.Response:
        teachers = contact.get(f"/api/schools/{school_id}/teachers").json()
        devices = [d for t in teachers if t["person_id"] in teacher_ids for d in t["devices"]]
        return contact.post(
            f"/api/signals/{signal_id}/forward",
            json={"teachers": teacher_ids, "envelopes": seal(devices, signal_id, name, birth_date)},
        )

    def close(self) -> None:
        for client in self.clients:
            client.close()
        if self._db is not None:
            self._db.close()


Factory = Callable[..., Any]
