"""A mobile number's carrier and province **by allocation**: the carrier its segment
(号段) was allocated to and the province of its 7-digit block, from the ``phonenumbers``
package's data for +86 (install the ``analytics`` extra). Since mobile number
portability (携号转网, nationwide from November 2019) a number may have moved to
another carrier: the figures say where its segment belongs, not where it is now.

Without ``phonenumbers`` every fact is unknown (``""``). The facts are derived once,
when a row is written (:func:`stamp`); ``manage.py sms_number_facts`` fills or refreshes
existing rows after the data were updated.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Carrier(models.TextChoices):
    """The four carriers with a mobile licence in mainland China."""

    MOBILE = "mobile", pgettext_lazy("carrier", "China Mobile")
    UNICOM = "unicom", pgettext_lazy("carrier", "China Unicom")
    TELECOM = "telecom", pgettext_lazy("carrier", "China Telecom")
    BROADNET = "broadnet", pgettext_lazy("carrier", "China Broadnet")


#: ISO 3166-2:CN code → (Chinese short name as the geocoder writes it, its label).
PROVINCES: dict[str, tuple[str, object]] = {
    "BJ": ("北京", _("Beijing")),
    "TJ": ("天津", _("Tianjin")),
    "HE": ("河北", _("Hebei")),
    "SX": ("山西", _("Shanxi")),
    "NM": ("内蒙古", _("Inner Mongolia")),
    "LN": ("辽宁", _("Liaoning")),
    "JL": ("吉林", _("Jilin")),
    "HL": ("黑龙江", _("Heilongjiang")),
    "SH": ("上海", _("Shanghai")),
    "JS": ("江苏", _("Jiangsu")),
    "ZJ": ("浙江", _("Zhejiang")),
    "AH": ("安徽", _("Anhui")),
    "FJ": ("福建", _("Fujian")),
    "JX": ("江西", _("Jiangxi")),
    "SD": ("山东", _("Shandong")),
    "HA": ("河南", _("Henan")),
    "HB": ("湖北", _("Hubei")),
    "HN": ("湖南", _("Hunan")),
    "GD": ("广东", _("Guangdong")),
    "GX": ("广西", _("Guangxi")),
    "HI": ("海南", _("Hainan")),
    "CQ": ("重庆", _("Chongqing")),
    "SC": ("四川", _("Sichuan")),
    "GZ": ("贵州", _("Guizhou")),
    "YN": ("云南", _("Yunnan")),
    "XZ": ("西藏", _("Tibet")),
    "SN": ("陕西", _("Shaanxi")),
    "GS": ("甘肃", _("Gansu")),
    "QH": ("青海", _("Qinghai")),
    "NX": ("宁夏", _("Ningxia")),
    "XJ": ("新疆", _("Xinjiang")),
}
PROVINCE_CHOICES = [(code, label) for code, (_zh, label) in PROVINCES.items()]

#: The carrier names of phonenumbers' Chinese data.
_CARRIER_NAMES = {
    "中国移动": Carrier.MOBILE,
    "中国联通": Carrier.UNICOM,
    "中国电信": Carrier.TELECOM,
    "中国广电": Carrier.BROADNET,
}
#: The digits that decide both facts: carriers allocate segments of 3 or 4 digits,
#: the geocoder's data go down to blocks of 7.
BLOCK = 7


def available() -> bool:
    """Whether the data are installed (the ``analytics`` extra)."""
    try:
        import phonenumbers  # noqa: F401
    except ImportError:
        return False
    return True


def facts(mobile: str) -> tuple[str, str]:
    """``(carrier, province)`` of a mainland mobile number by allocation; ``""`` for what
    is unknown (the data are not installed, the segment is not in them, or it is
    allocated nationwide, as the 170 and 192 segments are)."""
    if len(mobile) != 11 or not mobile.isdigit():
        return "", ""
    return _block_facts(mobile[:BLOCK])


@functools.lru_cache(maxsize=65536)
def _block_facts(block: str) -> tuple[str, str]:
    try:
        import phonenumbers
        from phonenumbers import carrier, geocoder
    except ImportError:
        return "", ""
    number = phonenumbers.parse(block + "0000", "CN")
    name = carrier.name_for_number(number, "zh")
    where = geocoder.description_for_number(number, "zh")
    province = next((code for code, (zh, _label) in PROVINCES.items() if where.startswith(zh)), "")
    return str(_CARRIER_NAMES.get(name, "")), province


def stamp(rows: Iterable[models.Model]) -> None:
    """Set ``carrier`` and ``province`` on unsaved Message rows from their numbers."""
    for row in rows:
        row.carrier, row.province = facts(row.mobile)


def carrier_label(code: str) -> str:
    return str(Carrier(code).label) if code in Carrier.values else str(_("unknown"))


def province_label(code: str) -> str:
    return str(PROVINCES[code][1]) if code in PROVINCES else str(_("unknown"))


def data_version() -> str:
    """The installed ``phonenumbers`` release, or "" without it."""
    try:
        import phonenumbers
    except ImportError:
        return ""
    return str(phonenumbers.__version__)
