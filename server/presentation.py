"""What both the admin pages and the API show people: Dutch labels and the enrolment QR code."""

from __future__ import annotations

import io

import segno

ROLE_LABELS = {
    "admin": "beheerder",
    "sender": "melder",
    "contact": "intern begeleider",
    "teacher": "leerkracht",
    "officer": "leerplichtambtenaar",
}
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
PUSH_KIND_LABELS = {
    "new_signal": "nieuw signaal",
    "teacher_signal": "signaal voor leerkracht",
    "reminder": "herinnering",
    "escalation": "niet op tijd opgepakt",
    "teacher_late": "leerkracht heeft nog niet gekeken",
    "device_pending": "nieuw apparaat wacht op goedkeuring",
}
OUTBOX_STATE_LABELS = {
    "pending": "wacht",
    "sent": "verstuurd",
    "failed": "niet gelukt",
    "gone": "abonnement vervallen",
}
SIGNAL_STATE_LABELS = {
    "sent": "verstuurd",
    "opened": "geopend",
    "relayed": "doorgestuurd naar school",
    "forwarded": "bij de leerkracht",
    "viewed": "gezien door leerkracht",
    "done": "afgerond",
    "closed": "gesloten",
    "expired": "verlopen",
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
