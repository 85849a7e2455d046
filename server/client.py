"""`hwc send` and `hwc status`: the Python client for a case-management system.

It encrypts on the sender's side with the Python envelope, so the server never sees the name.
`hwc send` reads the name and birth date from standard input (a prompt on a terminal), never
from its arguments: those land in shell history and in every process listing of the host.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import date
from typing import Any, TextIO

from server import keylog
from server.clientstate import DEFAULT_PATH as DEFAULT_STATE
from server.clientstate import ClientState, StateFileError
from server.clientstate import load as load_state
from server.envelope import (
    b64u_decode,
    encode_content,
    encrypt_envelope,
    new_signal_id,
)
from server.policy import CHILD_AGE_MAX, CHILD_AGE_MIN, CHILD_NAME_MAX, NAME_PATTERN


class ClientError(Exception):
    """What went wrong, in Dutch, for the person at the case system; never the child's name."""


class NotSigned(ClientError):
    """Why a signal goes out unsigned (version 2): this system's key is not approved yet."""


class TrustError(ClientError):
    """The key log does not vouch for the devices the server named: nothing was sent."""

    def __init__(self, kind: str, org_id: str, detail: str) -> None:
        self.kind, self.org_id = kind, org_id
        super().__init__(
            "Het signaal is NIET verstuurd. De apparaten die de server opgaf, kloppen niet met "
            f"de controleerbare sleutellijst van de school ({detail}). Bel de school om het "
            "signaal door te geven, en meld dit aan de beheerder van Handle with Care."
        )


# A send's list is checked against both receiving roles (docs/keylog.md): a person of the other
# role in the organisation makes the lists differ, and nothing is sent.
RECEIVING_ROLES = ("contact", "officer")
UNSIGNED = (
    "Let op: dit signaal is NIET ondertekend verstuurd. De sleutel van dit systeem is nog niet "
    "goedgekeurd door uw organisatie (code {code}), dus de school ziet niet dat het signaal "
    "echt van u komt. Vraag een melder of beheerder van uw organisatie om Handle with Care op "
    "de telefoon te openen en dit systeem met code {code} toe te staan (zie hwc register-key)."
)
REGISTERED = (
    "De sleutel van dit systeem is aangemeld voor uw organisatie. Code: {code}\n"
    "Vraag nu een melder of beheerder van uw organisatie om Handle with Care op de telefoon te "
    "openen. Daar staat dit systeem met een code van zes cijfers. Is dat dezelfde code "
    "({code})? Laat hem of haar dan op Toestaan tikken. Daarna ondertekent hwc send elk "
    "signaal, zodat de school ziet dat het echt van uw organisatie komt. Tot dan verstuurt "
    "hwc send signalen zonder handtekening."
)
OWN_LOG = (
    "Let op: dit signaal is NIET ondertekend verstuurd: de sleutellijst van uw eigen "
    "organisatie klopt niet ({detail}). Meld dit aan de beheerder van Handle with Care."
)
APPROVED = (
    "De sleutel van dit systeem is goedgekeurd (code {code}) en staat in de sleutellijst van uw "
    "organisatie: hwc send ondertekent elk signaal."
)
TRUST_DETAILS = {
    "log_invalid": "de sleutellijst is ongeldig of niet goed ondertekend",
    "log_fork": "de sleutellijst is anders dan eerder gezien",
    "recipients_mismatch": "er staan apparaten in de lijst die de sleutellijst niet kent",
}


def check_child(name: str, birth_date: str, today: date) -> str | None:
    """The same rules as the app: a Dutch message when the content is not acceptable."""
    name = name.strip()
    if not 1 <= len(name) <= CHILD_NAME_MAX or not NAME_PATTERN.match(name):
        return f"Vul een naam in van 1 tot {CHILD_NAME_MAX} letters (spaties, - ' en . mogen)."
    try:
        born = date.fromisoformat(birth_date)
    except ValueError:
        return "Vul een geldige geboortedatum in (JJJJ-MM-DD)."
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if not CHILD_AGE_MIN <= age <= CHILD_AGE_MAX:
        return (
            "De geboortedatum past niet bij een leerling "
            f"({CHILD_AGE_MIN} tot {CHILD_AGE_MAX} jaar)."
        )
    return None


class Client:
    """The API of a case-management system: find a school, send a signal, read its status.

    Plain urllib (the standard library), so `pip install` without extras gives a working client.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None,
        timeout: float = 15.0,
        state: ClientState | None = None,
        sign_as: str | None = None,
    ) -> None:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ClientError(f"HWC_URL moet met https:// beginnen, niet {url!r}.")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.state = state
        self.sign_as = sign_as  # sign as this organisation without checking its log (tests)
        self.unsigned: NotSigned | None = None  # why the last send was not signed
        self.headers = {"X-HWC": "1", "Accept": "application/json"}
        if api_key is not None:  # `hwc audit` reads only what is public
            self.headers["Authorization"] = f"Bearer {api_key}"

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON) of one request; an HTTP error status is an answer too."""
        data = None if body is None else json.dumps(body).encode()
        headers = (
            self.headers if data is None else {**self.headers, "Content-Type": "application/json"}
        )
        # The scheme is http(s), checked in __init__: no file: or ftp: URL reaches urlopen.
        request = urllib.request.Request(self.url + path, data, headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310  # nosec B310
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.load(error)

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        return _checked(*self._request(method, path, body))

    def find_school(self, code: str) -> dict[str, Any]:
        schools = self._json("GET", "/api/schools?" + urllib.parse.urlencode({"q": code}))
        exact: list[dict[str, Any]] = [
            s for s in schools if (s.get("code") or "").upper() == code.upper()
        ]
        if len(exact) != 1:
            raise ClientError(f"Geen school gevonden met code {code}.")
        return exact[0]

    def send(self, school_code: str, name: str, birth_date: str) -> dict[str, Any]:
        school = self.find_school(school_code)
        content = encode_content(name.strip(), birth_date)
        signal_id = new_signal_id()
        signing = self._signing()
        for _attempt in range(2):  # the device list may change in between: re-encrypt once
            devices, head = self.checked_recipients(school["id"])
            envelopes = [
                {
                    "device_id": d["device_id"],
                    "envelope": encrypt_envelope(
                        b64u_decode(d["public_key"]),
                        signal_id,
                        d["device_id"],
                        content,
                        head=head,
                        **signing,
                    ),
                }
                for d in devices["devices"]
            ]
            status, answer = self._request(
                "POST",
                "/api/signals",
                {"id": signal_id, "recipient_id": school["id"], "envelopes": envelopes},
            )
            if status != 409 or answer.get("error") != "devices_changed":
                break
        return dict(_checked(status, answer))

    def _signing(self) -> dict[str, Any]:
        """Version 3 when this system's key is active in its organisation's verified key log;
        else version 2, and `unsigned` says why (docs/envelope.md, `hwc send`)."""
        state = self._state()
        org_id = self.sign_as
        self.unsigned = None
        if org_id is None:
            try:
                org_id = self.approved_org()
            except NotSigned as reason:
                self.unsigned = reason
                return {}
        signer = {"org": org_id, "device": state.signer_device}
        return {"signing_key": state.signing_key, "signer": signer}

    def approved_org(self) -> str:
        """The organisation whose verified log names this system's key active; NotSigned when
        none does yet (registered on the way, the first time)."""
        state = self._state()
        org_id = state.registered_org(self.url)
        if org_id is None:
            org_id = self.register_key()["org"]
        try:
            machine = self._verified_log(org_id).machines.get(state.signer_device)
        except TrustError as refused:
            self.report(refused.kind, org_id)
            raise NotSigned(OWN_LOG.format(detail=TRUST_DETAILS[refused.kind])) from None
        if machine is None or not machine.active or machine.sig_key != state.sig_key:
            code = keylog.machine_code(state.sig_key)
            raise NotSigned(UNSIGNED.format(code=code))
        return org_id

    def register_key(self) -> dict[str, Any]:
        """`hwc register-key`: this system's signing key, pending for the API key's
        organisation until a sender or admin there approves it; the same key again: its state."""
        state = self._state()
        try:
            answer = self._json("POST", "/api/machine-keys", {"sig_key": state.sig_key})
        except ClientError as refused:
            raise NotSigned(f"{refused}") from None
        state.register(self.url, answer["org"])
        return dict(answer)

    def checked_recipients(self, school_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The server's recipient answer and the head of the receiving organisation's log,
        verified and consistent with the head remembered before, that makes exactly those
        devices the recipients (its head goes into the envelopes). A list that a change made
        between the two requests left behind is asked once more; otherwise TrustError, after
        reporting a security event (no personal data)."""
        for attempt in range(2):
            devices = self._json("GET", f"/api/schools/{school_id}/recipients")
            try:
                return devices, self._verified_head(
                    devices["org"], RECEIVING_ROLES, devices["devices"]
                )
            except TrustError as refused:
                if refused.kind != "recipients_mismatch" or attempt:
                    self.report(refused.kind, devices["org"])
                    raise
        raise AssertionError("unreachable")

    def _verified_head(
        self, org_id: str, roles: tuple[str, ...], devices: list[dict[str, Any]]
    ) -> dict[str, Any]:
        verified = self._verified_log(org_id)
        expected = {(d["id"], d["enc_key"]) for d in keylog.recipients(verified, roles)}
        given = {(d["device_id"], d["public_key"]) for d in devices}
        if given != expected or len(given) != len(devices):
            raise TrustError("recipients_mismatch", org_id, TRUST_DETAILS["recipients_mismatch"])
        return verified.head()

    def _verified_log(self, org_id: str) -> keylog.State:
        """An organisation's key log, verified under the pinned log key and consistent with
        the head remembered for it (which it then replaces); else TrustError."""
        state = self._state()
        log_key = self._json("GET", "/api/log/key")["key"]
        if state.log_key(self.url) is None:
            state.pin(self.url, log_key)
        if log_key != state.log_key(self.url):
            raise TrustError("log_invalid", org_id, "de sleutel van de sleutellijst is veranderd")
        log = self._json("GET", f"/api/orgs/{org_id}/log")
        try:
            verified = keylog.verify_log(
                log_key, org_id, log["entries"], log["head"], state.remembered(self.url, org_id)
            )
        except keylog.LogError as error:
            kind = "log_fork" if isinstance(error, keylog.LogFork) else "log_invalid"
            raise TrustError(kind, org_id, TRUST_DETAILS[kind]) from None
        state.remember(self.url, verified.head())
        return verified

    def _state(self) -> ClientState:
        if self.state is None:
            try:
                self.state = load_state()
            except StateFileError as error:
                raise ClientError(str(error)) from None
        return self.state

    def report(self, kind: str, org_id: str) -> None:
        """Best effort: the refusal stands whether or not the report arrives."""
        try:
            self._request("POST", "/api/security-events", {"kind": kind, "org": org_id})
        except (OSError, ValueError):
            pass

    def status(self, ref: str) -> dict[str, Any]:
        for signal in self._json("GET", "/api/signals"):
            if signal["ref"] == ref.upper():
                return dict(signal)
        raise ClientError(f"Geen signaal met kenmerk {ref}.")


def _checked(status: int, answer: Any) -> Any:
    """The answer, or the server's Dutch message as a ClientError."""
    if status >= 400:
        raise ClientError(f"{answer.get('message', 'Fout')} ({status})")
    return answer


def add_commands(commands: Any) -> None:
    send = commands.add_parser(
        "send",
        help="send a signal from a case-management system (encrypts locally)",
        description="Encrypt name and birth date locally to the school's devices and send. "
        "Reads the name and then the birth date (YYYY-MM-DD) as two lines from "
        "standard input, with a prompt on a terminal; never from arguments. Needs "
        "HWC_URL and HWC_API_KEY (an organisation API key from the admin). Before "
        "encrypting it verifies the school's key log and sends only to the devices the log "
        "vouches for; its signing key and the log heads it saw are kept in HWC_STATE "
        f"(default {DEFAULT_STATE}, mode 0600). It signs every signal (envelope version 3) once "
        "a sender or admin of the organisation approved its key in the app (hwc register-key); "
        "until then it sends unsigned, with a warning on stderr.",
    )
    send.add_argument("--school", required=True, help="the school's BRIN/vestiging code")
    send.set_defaults(run=_reported(cmd_send))
    register = commands.add_parser(
        "register-key",
        help="register this system's signing key for approval in the app (prints its code)",
        description="Register the signing key of HWC_STATE with the organisation of "
        "HWC_API_KEY, or show whether it is approved. A sender or admin of the organisation "
        "approves it in the app after comparing the six-digit code printed here.",
    )
    register.set_defaults(run=_reported(cmd_register_key))
    status = commands.add_parser("status", help="print a signal's timeline by reference code")
    status.add_argument("ref", help="reference code, e.g. HWC-7K3P")
    status.set_defaults(run=_reported(cmd_status))


def _reported(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A ClientError ends the command with its Dutch message on stderr and status 1."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except TrustError as refused:
            print(refused, file=sys.stderr)
            return 3  # not sent, for a reason the people at both ends must hear about
        except ClientError as error:
            print(error, file=sys.stderr)
            return 1

    return run


def _client() -> Client:
    url, key = os.environ.get("HWC_URL", "http://localhost:8000"), os.environ.get("HWC_API_KEY")
    if not key:
        raise ClientError("Zet HWC_API_KEY (de API-sleutel van uw organisatie).")
    return Client(url, key)


def read_child(stream: TextIO) -> tuple[str, str]:
    """Name, then birth date: one line each from `stream`, asked for on a terminal."""
    asking = stream.isatty()
    name = _read_line(stream, "Naam van het kind: " if asking else "")
    birth_date = _read_line(stream, "Geboortedatum (JJJJ-MM-DD): " if asking else "")
    return name, birth_date


def _read_line(stream: TextIO, prompt: str) -> str:
    if prompt:
        print(prompt, end="", file=sys.stderr, flush=True)  # stdout stays for the result
    return stream.readline().rstrip("\r\n")


def cmd_send(args: argparse.Namespace) -> int:
    name, birth_date = read_child(sys.stdin)
    problem = check_child(name, birth_date, date.today())
    if problem:
        print(problem, file=sys.stderr)
        return 2
    client = _client()
    result = client.send(args.school, name, birth_date)
    print(f"Verstuurd. Kenmerk: {result['ref']}  (uiterlijk opgepakt: {result['deadline']})")
    if client.unsigned is not None:
        print(client.unsigned, file=sys.stderr)
    if result.get("holiday_warning"):
        print(result["holiday_warning"])
    return 0


def cmd_register_key(args: argparse.Namespace) -> int:
    client = _client()
    answer = client.register_key()
    if answer["state"] != "approved":
        print(REGISTERED.format(code=answer["code"]))
        return 0
    client.approved_org()  # the server's word is not enough: the verified log must say so
    print(APPROVED.format(code=answer["code"]))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    signal = _client().status(args.ref)
    print(f"{signal['ref']}  {signal['school'] or signal['holder']}  status: {signal['state']}")
    for event in signal["timeline"]:
        count = f" ({event['count']})" if event["count"] is not None else ""
        print(f"  {event['at']}  {event['kind']}{count}")
    return 0
