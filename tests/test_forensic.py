"""A full copy of the server reveals no child: after whole stories with a distinctive name, its
bytes (UTF-8, UTF-16-LE/BE) and the birth date occur nowhere in the database file, its WAL and
shm (read raw while the server runs and after it stops), nor in any line the server process
wrote (stdout and stderr); and deleted envelopes are really gone from the file after a
checkpoint (secure_delete)."""

from __future__ import annotations

from pathlib import Path

from server.db import checkpoint
from tests.conftest import live_world, process_world
from tests.support import Device, World, new_signal_id, seal

NAME, BORN = "Xylofoon Quaggazwemmer", "2013-07-19"
OTHER_NAME, OTHER_BORN = "Ōrla Ĳsselmeer-Ðakić", "2012-11-23"  # not ASCII: UTF-8 differs
STAFF_NAME = "Juf Wilhelmina Ottevanger"  # a person the directory must hold: the control


def needles() -> dict[str, bytes]:
    found = {}
    for label, text in (
        ("name", NAME),
        ("surname", "Quaggazwemmer"),
        ("other name", OTHER_NAME),
        ("other surname", "Ĳsselmeer-Ðakić"),
    ):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            found[f"{label} {encoding}"] = text.encode(encoding)
    for label, born in (("birth date", BORN), ("other birth date", OTHER_BORN)):
        year, month, day = born.split("-")
        found[label] = born.encode()
        found[f"{label} utf-16-le"] = born.encode("utf-16-le")
        found[f"{label} dutch"] = f"{day}-{month}-{year}".encode()
        found[f"{label} compact"] = f"{year}{month}{day}".encode()
    return found


def scan(data: bytes) -> list[str]:
    lowered = data.lower()
    return [label for label, needle in needles().items() if needle.lower() in lowered]


def database_files(db_path: Path) -> dict[str, bytes]:
    files = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db_path}{suffix}")
        if path.exists():
            files[path.name] = path.read_bytes()
    return files


class Stories:
    """The stories of the forensic test, remembering every envelope's ciphertext it sent."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.cts: dict[str, list[str]] = {}
        w = world
        self.school = w.org(name="Basisschool De Kraanvogel")
        self.school2 = w.org(name="Basisschool Het Kompas")
        self.office = w.org("leerplicht", "Leerplicht Zeist")
        self.sender = w.member("sender", w.org("veilig_thuis", "Veilig Thuis Utrecht"))
        self.contact = w.member("contact", self.school)
        self.teacher = w.member("teacher", self.school, name=STAFF_NAME, class_label="groep 5")
        self.contacts2 = [w.member("contact", self.school2), w.member("contact", self.school2)]
        self.teacher2 = w.member("teacher", self.school2, class_label="groep 3")
        self.officer = w.member("officer", self.office)

    def _seal(self, devices: list[dict], signal_id: str, name: str, born: str) -> list[dict]:
        envelopes = seal(devices, signal_id, name, born)
        self.cts.setdefault(signal_id, []).extend(e["envelope"]["ct"] for e in envelopes)
        return envelopes

    def send(self, to: str, name: str = NAME, born: str = BORN) -> str:
        signal_id = new_signal_id()
        devices = self.sender.get(f"/api/schools/{to}/recipients").json()["devices"]
        response = self.sender.post(
            "/api/signals",
            json={
                "id": signal_id,
                "recipient_id": to,
                "envelopes": self._seal(devices, signal_id, name, born),
            },
        )
        assert response.status_code == 201, response.text
        return signal_id

    def forward(
        self,
        contact: Device,
        signal_id: str,
        school: str,
        teacher: Device,
        name: str = NAME,
        born: str = BORN,
    ) -> None:
        listed = contact.get(f"/api/schools/{school}/teachers").json()
        devices = [d for t in listed if t["person_id"] == teacher.person_id for d in t["devices"]]
        response = contact.post(
            f"/api/signals/{signal_id}/forward",
            json={
                "teachers": [teacher.person_id],
                "envelopes": self._seal(devices, signal_id, name, born),
            },
        )
        assert response.status_code == 200, response.text

    def relay(self, signal_id: str, school: str) -> None:
        devices = self.officer.get(f"/api/schools/{school}/recipients").json()["devices"]
        response = self.officer.post(
            f"/api/signals/{signal_id}/relay",
            json={"school_id": school, "envelopes": self._seal(devices, signal_id, NAME, BORN)},
        )
        assert response.status_code == 200, response.text

    def close(self, contact: Device, signal_id: str, reason: str) -> None:
        response = contact.post(f"/api/signals/{signal_id}/close", json={"reason": reason})
        assert response.status_code == 200, response.text

    def run(self) -> tuple[list[str], str]:
        """All stories; returns the finished signals and the one left unopened."""
        direct = self.send(self.school)
        assert self.contact.open(direct) == {"name": NAME, "birth_date": BORN}
        self.forward(self.contact, direct, self.school, self.teacher)
        assert self.teacher.open(direct)["name"] == NAME
        assert self.teacher.post(f"/api/signals/{direct}/done").status_code == 200  # Gelezen
        self.close(self.contact, direct, "done")  # Afronden

        not_ours = self.send(self.school)
        assert self.contact.open(not_ours)["name"] == NAME
        self.close(self.contact, not_ours, "not_our_pupil")

        two = self.send(self.school2)
        for contact in self.contacts2:
            assert contact.open(two)["birth_date"] == BORN
        self.forward(self.contacts2[0], two, self.school2, self.teacher2)
        assert self.teacher2.open(two)["name"] == NAME
        self.close(self.contacts2[0], two, "done")

        relayed = self.send(self.office)
        assert self.officer.open(relayed)["name"] == NAME
        self.relay(relayed, self.school)
        assert self.contact.open(relayed)["name"] == NAME
        self.close(self.contact, relayed, "told_in_person")

        other = self.send(self.school2, OTHER_NAME, OTHER_BORN)
        self.forward(self.contacts2[1], other, self.school2, self.teacher2, OTHER_NAME, OTHER_BORN)
        assert self.teacher2.open(other) == {"name": OTHER_NAME, "birth_date": OTHER_BORN}
        self.close(self.contacts2[1], other, "done")

        unopened = self.send(self.school)
        self.mistakes()
        return [direct, not_ours, two, relayed, other], unopened

    def mistakes(self) -> None:
        """Plain text sent where it never belongs is refused, and so not kept or logged."""
        misdirected = self.sender.post(
            "/api/signals",
            json={"id": "x", "recipient_id": self.school, "name": NAME, "birth_date": BORN},
        )
        assert misdirected.status_code == 422
        assert NAME not in misdirected.text
        found = self.sender.get("/api/schools", params={"q": NAME})
        assert found.status_code == 200 and found.json() == []
        enrol = self.world.client().post(
            "/api/enrol",
            json={
                "token": f"{NAME} {BORN}",
                "public_key": "A" * 87,
                "sig_key": "A" * 87,
                "label": NAME,
            },
        )
        assert enrol.status_code in (400, 422)
        closing = self.contact.post(
            f"/api/signals/{NAME}/close",
            content=BORN.encode(),
            headers={"Content-Type": "text/plain"},
        )
        assert closing.status_code in (404, 415)


def test_no_trace_of_the_child(db_path: Path) -> None:
    """The server runs as a deployment runs it (`hwc serve`, a process of its own, logging at
    DEBUG); its database files and everything it wrote to stdout and stderr are scanned."""
    with process_world(db_path, HWC_LOG_LEVEL="DEBUG") as (world, server):
        assert world.db.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert world.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

        stories = Stories(world)
        finished, unopened = stories.run()

        running = database_files(db_path)
        assert {"hwc.db", "hwc.db-wal", "hwc.db-shm"} <= set(running)
        for file_name, data in running.items():
            assert scan(data) == [], file_name
        # The control: the same scan finds what the database is meant to hold.
        assert STAFF_NAME.encode() in running["hwc.db"] + running["hwc.db-wal"]

        checkpoint(world.db)
        after_checkpoint = database_files(db_path)
        assert len(after_checkpoint.get("hwc.db-wal", b"")) == 0
        stored = b"".join(after_checkpoint.values())
        for signal_id in finished:
            assert (
                world.db.execute(
                    "SELECT count(*) FROM envelopes WHERE signal_id = ?", [signal_id]
                ).fetchone()[0]
                == 0
            )
            left = [ct for ct in stories.cts[signal_id] if ct.encode() in stored]
            assert left == [], f"deleted ciphertext of {signal_id} still in the file"
        # The control: the envelopes still held are found by the same scan.
        assert all(ct.encode() in stored for ct in stories.cts[unopened])
        assert scan(stored) == []
        assert world.db.execute("PRAGMA secure_delete").fetchone()[0] == 1

    stopped = database_files(db_path)
    assert "hwc.db" in stopped
    for file_name, data in stopped.items():
        assert scan(data) == [], file_name
    assert not [
        ct for s in finished for ct in stories.cts[s] if ct.encode() in b"".join(stopped.values())
    ]

    stdout, stderr = server.output()
    lines = stdout.splitlines() + stderr.splitlines()
    # The control: the scan reads real log lines, one per request.
    assert any(" INFO hwc.access POST /api/signals/{id}/forward 200 " in line for line in lines)
    leaks = [line for line in lines if scan(line.encode("utf-8", "replace"))]
    assert leaks == []
    # Ids are not personal, but route templates keep them out of the access log all the same.
    assert not [line for line in lines if unopened in line]


def test_finished_envelopes_leave_the_wal_without_waiting(db_path: Path) -> None:
    with live_world(db_path) as world:
        stories = Stories(world)
        signal_id = stories.send(stories.school)
        assert stories.contact.open(signal_id)["name"] == NAME
        stories.close(stories.contact, signal_id, "told_in_person")
        files = database_files(db_path)
        assert not files.get("hwc.db-wal")  # truncated at the commit that erased them
        stored = b"".join(files.values())
        assert [ct for ct in stories.cts[signal_id] if ct.encode() in stored] == []
