"""What both the admin pages and the API show people: Dutch labels and the enrolment QR code."""

from __future__ import annotations

import io

import segno

from server.states import PUSH_KINDS, State

KIND_LABELS = {
    "school": "School",
    "veilig_thuis": "Veilig Thuis",
    "leerplicht": "Leerplicht (gemeente)",
}
PUSH_LABELS = {"active": "meldingen aan", "none": "meldingen uit", "gone": "meldingen uit"}
SECURITY_KINDS = {  # what an app reported about a key log (server/security_events.py)
    "log_invalid": "Sleutellijst ongeldig of niet goed ondertekend",
    "log_fork": "Sleutellijst anders dan eerder gezien",
    "recipients_mismatch": "Apparaten kloppen niet met de sleutellijst; signaal niet verstuurd",
    "head_mismatch": "Signaal versleuteld voor een andere sleutellijst dan de ontvanger kent",
    "unapproved_device": "Apparaat toegevoegd dat de persoon niet goedkeurde",
    "unexpected_reset": "Apparaat ingetrokken of opnieuw ingesteld zonder dat de persoon dat deed",
}
PUSH_KIND_LABELS = {kind: push.label for kind, push in PUSH_KINDS.items()}
OUTBOX_STATE_LABELS = {
    "pending": "wacht",
    "sent": "verstuurd",
    "failed": "niet gelukt",
    "gone": "abonnement vervallen",
}
SIGNAL_STATE_LABELS = {
    State.SENT: "verstuurd",
    State.OPENED: "geopend",
    State.RELAYED: "doorgestuurd naar school",
    State.FORWARDED: "bij de leerkracht",
    State.VIEWED: "gezien door leerkracht",
    State.DONE: "afgerond",
    State.CLOSED: "gesloten",
    State.EXPIRED: "verlopen",
}


def qr_svg(link: str) -> str:
    """The enrolment link as an SVG QR code (dark on white, also in dark mode). With its
    namespace: the pages parse it as SVG (image/svg+xml), where a bare <svg> is no image."""
    out = io.BytesIO()
    segno.make(link, error="m").save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=5,
        dark="#000",
        light="#fff",
        title="QR-code van de aanmeldlink",
    )
    return out.getvalue().decode()
