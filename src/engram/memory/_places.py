"""Well-known places: countries, states and large cities, named as people name them. What
a rule reads as a place where the words alone leave it open ("I left Paris" ends a home, "I
left Google" a job: `_change_rules`). Small and curated on purpose, as the place aliases
of `entities` are: a name missing here is read as the words around it say, and none here
is also a company or a person's first name ("Zurich", "Santander", "Jordan", "Georgia",
"Sydney", "Victoria", "Austin" are left out)."""

from __future__ import annotations

import re

from engram.memory.entities import fold

__all__ = ["is_well_known_place", "place_within", "well_known_city_opening"]

_COUNTRIES = """
afghanistan albania algeria argentina armenia australia austria azerbaijan bangladesh
belarus belgium bolivia bosnia brazil bulgaria cambodia cameroon canada chile china
colombia croatia cuba cyprus czechia denmark ecuador egypt england estonia ethiopia finland
france germany ghana greece guatemala hungary iceland india indonesia iran iraq ireland
italy jamaica japan kazakhstan kenya kosovo latvia lebanon lithuania luxembourg malaysia
malta mexico moldova mongolia montenegro morocco mozambique nepal netherlands
new_zealand nigeria norway pakistan panama paraguay peru philippines poland portugal
romania russia scotland senegal serbia singapore slovakia slovenia somalia south_africa
south_korea spain sri_lanka sudan sweden switzerland syria taiwan tanzania thailand tunisia
turkey uganda ukraine united_kingdom united_states uruguay uzbekistan venezuela vietnam wales
yemen zambia zimbabwe the_uk the_us the_usa the_netherlands the_philippines uk usa
"""
_REGIONS = """
alaska arizona bavaria california catalonia colorado connecticut florida hawaii idaho
illinois iowa kansas kentucky louisiana maryland massachusetts michigan minnesota mississippi
missouri montana nebraska nevada new_jersey new_mexico new_york_state ohio oklahoma ontario
oregon pennsylvania quebec tasmania tennessee texas utah vermont wisconsin wyoming
"""
_CITIES = """
abu_dhabi accra addis_ababa amsterdam ankara antwerp athens atlanta auckland baltimore
bangalore bangkok barcelona beijing beirut belfast belgrade berlin bern bilbao birmingham
bogota bologna bordeaux boston braga bratislava brisbane bristol brussels bucharest budapest
buenos_aires cairo calgary cape_town cardiff casablanca chicago cologne copenhagen
coimbra dallas delhi denver detroit doha dubai dublin dusseldorf edinburgh faro frankfurt
geneva genoa glasgow gothenburg granada guadalajara hamburg hanoi helsinki ho_chi_minh_city
hong_kong honolulu houston istanbul jakarta jerusalem johannesburg karachi kathmandu kiev
kyiv krakow kuala_lumpur lagos lahore las_vegas leeds leipzig lima lisbon liverpool
ljubljana london los_angeles lyon madrid malaga manchester manila marseille medellin
melbourne mexico_city miami milan minneapolis montreal moscow mumbai munich nairobi naples
new_delhi new_orleans new_york new_york_city nice oslo osaka ottawa oxford palermo
paris perth philadelphia pittsburgh porto prague reykjavik riga rio rio_de_janeiro riyadh rome
rotterdam salzburg san_diego san_francisco san_jose santiago sao_paulo sarajevo seattle
seoul seville shanghai shenzhen singapore sofia stockholm stuttgart taipei tallinn tbilisi
tehran tel_aviv tokyo toronto toulouse turin valencia vancouver venice vienna vilnius
warsaw washington washington_dc wellington zagreb
"""
_PLACES = frozenset(
    name.replace("_", " ") for names in (_COUNTRIES, _REGIONS, _CITIES) for name in names.split()
)
_CITY_NAMES = frozenset(name.replace("_", " ") for name in _CITIES.split())
_STATE_OR_CITY = frozenset({"new york", "washington"})
"""Names of a state as much as of a city: "Albany, New York" is no part of New York City."""
_CLAUSE_END = re.compile(r"\s*(?:$|[.,;:!?)]|(?:and|but|with|now|since|for|so|too)\b)", re.I)
"""What may follow the place a place lies in: the clause ends ("Portland, Oregon, with my
wife"), or a word that starts no clause of its own with it ("Portland, Oregon since 2019")."""


def is_well_known_place(name: str) -> bool:
    """Whether `name` (any case or accents: "São Paulo", "PARIS") is a well-known place."""
    return fold(name).replace(".", "") in _PLACES


def well_known_city_opening(words: str) -> str | None:
    """The well-known city `words` open with, the longest name first ("San Diego last week"
    -> "San Diego"; "Berlin" but no country or region), else None."""
    parts = words.split()
    for size in range(min(len(parts), 4), 0, -1):
        name = " ".join(parts[:size]).rstrip(",.;:!?")
        if fold(name).replace(".", "") in _CITY_NAMES:
            return name
    return None


def place_within(words: str) -> tuple[str, bool] | None:
    """The well-known place `words` name after a comma, to close the clause, as where the
    place before it lies, and whether it is a city that place is part of: ", New York" of
    "Brooklyn, New York" ("New York", False: a city and a state), ", Oregon" of "Portland,
    Oregon" ("Oregon", False), ", Berlin" of "Kreuzberg, Berlin" ("Berlin", True). None if
    `words` open with no comma and such a name, or the clause goes on ("Lisbon, Porto is
    where I grew up")."""
    head, comma, rest = words.partition(",")
    if not comma or head.strip():
        return None
    parts = rest.split()
    for size in range(min(len(parts), 4), 0, -1):
        name = " ".join(parts[:size]).rstrip(",.;:!?)")
        folded = fold(name).replace(".", "")
        if folded in _PLACES and _CLAUSE_END.match(rest.split(name, 1)[1]):
            return name, folded in _CITY_NAMES and folded not in _STATE_OR_CITY
    return None
