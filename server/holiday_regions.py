"""Which school holiday region (noord, midden, zuid) a municipality belongs to: data only.

The Ministry of Education (OCW) assigns every municipality to a region; Rijksoverheid publishes
the division (rijksoverheid.nl/onderwerpen/schoolvakanties/regios-schoolvakantie) by province,
with named municipalities that follow another region than the rest of their province, and two
municipalities split by village. This table is written the same way: a region per province,
the municipalities that differ, the split ones by place. Names are compared case-folded,
so DUO's capitals ('S-HERTOGENBOSCH) match.

A school may follow another region's dates (it asked through its municipality, for instance
after a municipal merger, or the municipality is split between regions): the admin sets
`region_override` for that school (server/register.py), which every re-import keeps.

Check this table against the official page when the division changes (it rarely does; the
last changes followed municipal mergers); a municipality missing from the exceptions simply
takes its province's region.
"""

from __future__ import annotations

from typing import Literal

HolidayRegion = Literal["noord", "midden", "zuid"]

PROVINCES: dict[str, HolidayRegion] = {
    "drenthe": "noord",
    "flevoland": "noord",
    "friesland": "noord",
    "fryslân": "noord",
    "groningen": "noord",
    "noord-holland": "noord",
    "overijssel": "noord",
    "gelderland": "midden",
    "utrecht": "midden",
    "zuid-holland": "midden",
    "limburg": "zuid",
    "noord-brabant": "zuid",
    "zeeland": "zuid",
}

# Municipalities whose region differs from their province's.
MUNICIPALITIES: dict[str, HolidayRegion] = {
    # Gelderland, with the north
    "hattem": "noord",
    # Utrecht, with the north
    "eemnes": "noord",
    # Flevoland, with the middle
    "zeewolde": "midden",
    # Noord-Brabant, with the middle (but for two villages, see PLACES)
    "altena": "midden",
    # Gelderland, with the south: the Arnhem and Nijmegen areas
    "arnhem": "zuid",
    "berg en dal": "zuid",
    "beuningen": "zuid",
    "doesburg": "zuid",
    "druten": "zuid",
    "duiven": "zuid",
    "heumen": "zuid",
    "lingewaard": "zuid",
    "montferland": "zuid",
    "nijmegen": "zuid",
    "overbetuwe": "zuid",
    "renkum": "zuid",
    "rheden": "zuid",
    "rozendaal": "zuid",
    "westervoort": "zuid",
    "west maas en waal": "zuid",
    "wijchen": "zuid",
    "zevenaar": "zuid",
}

# Municipalities the official text splits, by place (DUO's PLAATSNAAM): Altena is midden but
# for the villages of Hank and Dussen; De Ronde Venen is midden but for the former
# municipality of Abcoude (Abcoude and Baambrugge). A split the table does not know is the
# admin's override.
PLACES: dict[tuple[str, str], HolidayRegion] = {
    ("altena", "hank"): "zuid",
    ("altena", "dussen"): "zuid",
    ("de ronde venen", "abcoude"): "noord",
    ("de ronde venen", "baambrugge"): "noord",
}


def region_of(municipality: str, province: str, place: str = "") -> HolidayRegion | None:
    """The place's region in a split municipality, else the municipality's, else its
    province's; None when none is known."""
    key = municipality.strip().casefold()
    if (key, place.strip().casefold()) in PLACES:
        return PLACES[key, place.strip().casefold()]
    if key in MUNICIPALITIES:
        return MUNICIPALITIES[key]
    return PROVINCES.get(province.strip().casefold())
