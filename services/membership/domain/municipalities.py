"""Denmark's 98 municipalities (kommuner) with their official three-digit codes and regions.

Source: the official municipality code list (Danmarks Statistik / KL), in force since the
2007 municipal reform. Christiansø (411) has a code but is not a municipality (it is run by
the state), so it is not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Region(StrEnum):
    """The five regions a municipality lies in."""

    HOVEDSTADEN = "Hovedstaden"
    SJAELLAND = "Sjælland"
    SYDDANMARK = "Syddanmark"
    MIDTJYLLAND = "Midtjylland"
    NORDJYLLAND = "Nordjylland"


@dataclass(frozen=True)
class Municipality:
    """A municipality: official code (three digits, as text), name and region."""

    code: str
    name: str
    region: Region


_H, _S, _SD, _M, _N = (
    Region.HOVEDSTADEN,
    Region.SJAELLAND,
    Region.SYDDANMARK,
    Region.MIDTJYLLAND,
    Region.NORDJYLLAND,
)

MUNICIPALITIES: tuple[Municipality, ...] = (
    # Region Hovedstaden (29)
    Municipality("101", "København", _H),
    Municipality("147", "Frederiksberg", _H),
    Municipality("151", "Ballerup", _H),
    Municipality("153", "Brøndby", _H),
    Municipality("155", "Dragør", _H),
    Municipality("157", "Gentofte", _H),
    Municipality("159", "Gladsaxe", _H),
    Municipality("161", "Glostrup", _H),
    Municipality("163", "Herlev", _H),
    Municipality("165", "Albertslund", _H),
    Municipality("167", "Hvidovre", _H),
    Municipality("169", "Høje-Taastrup", _H),
    Municipality("173", "Lyngby-Taarbæk", _H),
    Municipality("175", "Rødovre", _H),
    Municipality("183", "Ishøj", _H),
    Municipality("185", "Tårnby", _H),
    Municipality("187", "Vallensbæk", _H),
    Municipality("190", "Furesø", _H),
    Municipality("201", "Allerød", _H),
    Municipality("210", "Fredensborg", _H),
    Municipality("217", "Helsingør", _H),
    Municipality("219", "Hillerød", _H),
    Municipality("223", "Hørsholm", _H),
    Municipality("230", "Rudersdal", _H),
    Municipality("240", "Egedal", _H),
    Municipality("250", "Frederikssund", _H),
    Municipality("260", "Halsnæs", _H),
    Municipality("270", "Gribskov", _H),
    Municipality("400", "Bornholm", _H),
    # Region Sjælland (17)
    Municipality("253", "Greve", _S),
    Municipality("259", "Køge", _S),
    Municipality("265", "Roskilde", _S),
    Municipality("269", "Solrød", _S),
    Municipality("306", "Odsherred", _S),
    Municipality("316", "Holbæk", _S),
    Municipality("320", "Faxe", _S),
    Municipality("326", "Kalundborg", _S),
    Municipality("329", "Ringsted", _S),
    Municipality("330", "Slagelse", _S),
    Municipality("336", "Stevns", _S),
    Municipality("340", "Sorø", _S),
    Municipality("350", "Lejre", _S),
    Municipality("360", "Lolland", _S),
    Municipality("370", "Næstved", _S),
    Municipality("376", "Guldborgsund", _S),
    Municipality("390", "Vordingborg", _S),
    # Region Syddanmark (22)
    Municipality("410", "Middelfart", _SD),
    Municipality("420", "Assens", _SD),
    Municipality("430", "Faaborg-Midtfyn", _SD),
    Municipality("440", "Kerteminde", _SD),
    Municipality("450", "Nyborg", _SD),
    Municipality("461", "Odense", _SD),
    Municipality("479", "Svendborg", _SD),
    Municipality("480", "Nordfyns", _SD),
    Municipality("482", "Langeland", _SD),
    Municipality("492", "Ærø", _SD),
    Municipality("510", "Haderslev", _SD),
    Municipality("530", "Billund", _SD),
    Municipality("540", "Sønderborg", _SD),
    Municipality("550", "Tønder", _SD),
    Municipality("561", "Esbjerg", _SD),
    Municipality("563", "Fanø", _SD),
    Municipality("573", "Varde", _SD),
    Municipality("575", "Vejen", _SD),
    Municipality("580", "Aabenraa", _SD),
    Municipality("607", "Fredericia", _SD),
    Municipality("621", "Kolding", _SD),
    Municipality("630", "Vejle", _SD),
    # Region Midtjylland (19)
    Municipality("615", "Horsens", _M),
    Municipality("657", "Herning", _M),
    Municipality("661", "Holstebro", _M),
    Municipality("665", "Lemvig", _M),
    Municipality("671", "Struer", _M),
    Municipality("706", "Syddjurs", _M),
    Municipality("707", "Norddjurs", _M),
    Municipality("710", "Favrskov", _M),
    Municipality("727", "Odder", _M),
    Municipality("730", "Randers", _M),
    Municipality("740", "Silkeborg", _M),
    Municipality("741", "Samsø", _M),
    Municipality("746", "Skanderborg", _M),
    Municipality("751", "Aarhus", _M),
    Municipality("756", "Ikast-Brande", _M),
    Municipality("760", "Ringkøbing-Skjern", _M),
    Municipality("766", "Hedensted", _M),
    Municipality("779", "Skive", _M),
    Municipality("791", "Viborg", _M),
    # Region Nordjylland (11)
    Municipality("773", "Morsø", _N),
    Municipality("787", "Thisted", _N),
    Municipality("810", "Brønderslev", _N),
    Municipality("813", "Frederikshavn", _N),
    Municipality("820", "Vesthimmerlands", _N),
    Municipality("825", "Læsø", _N),
    Municipality("840", "Rebild", _N),
    Municipality("846", "Mariagerfjord", _N),
    Municipality("849", "Jammerbugt", _N),
    Municipality("851", "Aalborg", _N),
    Municipality("860", "Hjørring", _N),
)

BY_CODE: Mapping[str, Municipality] = MappingProxyType({m.code: m for m in MUNICIPALITIES})


def municipality(code: str) -> Municipality | None:
    """The municipality with this official code, or None."""
    return BY_CODE.get(code)
