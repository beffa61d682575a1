"""ISO 4217: the currencies a price may be in, each with its number of minor-unit digits (EUR 2: cents; JPY 0;
KWD 3). Amounts are integers in minor units everywhere; the exponent is only for showing them."""

from __future__ import annotations

# Active codes of ISO 4217 (funds codes, precious metals and the testing code left out), minor units 2 unless listed.
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CNY "
    "COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS "
    "INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR "
    "MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD "
    "SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG"
)

MINOR_DIGITS: dict[str, int] = {
    **{code: 2 for code in _TWO.split()},
    **{code: 0 for code in _ZERO.split()},
    **{code: 3 for code in _THREE.split()},
}


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in MINOR_DIGITS


def shown(amount: int, currency: str) -> str:
    """12345 EUR → "123.45 EUR"; 500 JPY → "500 JPY"."""
    digits = MINOR_DIGITS[currency]
    sign, whole = ("-" if amount < 0 else ""), abs(amount)
    if digits == 0:
        return f"{sign}{whole} {currency}"
    return f"{sign}{whole // 10**digits}.{whole % 10**digits:0{digits}d} {currency}"
