"""Word lists that turn a product's drawn attributes into a plausible title and description.

The names are invented (no real issuer or index), so the demo never looks like advice about a
real product.
"""

from __future__ import annotations

from collections.abc import Sequence

ASSET_CLASSES = ("equity", "etf", "bond", "fund", "crypto", "savings")
THEMES = (
    "sustainability",
    "technology",
    "healthcare",
    "dividends",
    "emerging_markets",
    "real_estate",
    "energy",
    "global",
)
REGIONS = ("europe", "north_america", "asia", "global")

_HOUSE_HEADS = (
    "North",
    "Clear",
    "Silver",
    "Blue",
    "Oak",
    "Stone",
    "Red",
    "Fair",
    "High",
    "Bright",
    "Green",
    "Iron",
    "Cedar",
    "West",
    "Swift",
    "Golden",
)
_HOUSE_TAILS = (
    "wind",
    "water",
    "birch",
    "peak",
    "ridge",
    "field",
    "haven",
    "gate",
    "brook",
    "crest",
    "moor",
)

_THEME_WORDS: dict[str, tuple[str, ...]] = {
    "sustainability": ("Sustainable", "Green", "Climate Transition", "ESG Leaders", "Clean Future"),
    "technology": ("Technology", "Digital Innovation", "Robotics & AI", "Semiconductor", "Cloud"),
    "healthcare": ("Healthcare", "Biotech", "Healthy Ageing", "Medical Innovation"),
    "dividends": ("Dividend", "Equity Income", "High Dividend", "Dividend Growth"),
    "emerging_markets": ("Emerging Markets", "Frontier", "Emerging Growth", "New Economies"),
    "real_estate": ("Property", "Real Estate", "Listed Property", "Real Assets"),
    "energy": ("Energy", "Energy Transition", "Natural Resources", "Power & Utilities"),
    "global": ("Equity", "Core Equity", "Index", "All Cap", "Leaders"),
}
_REGION_WORDS: dict[str, tuple[str, ...]] = {
    "europe": ("Europe", "European", "Eurozone"),
    "north_america": ("North America", "US", "American"),
    "asia": ("Asia Pacific", "Asian", "Japan"),
    "global": ("Global", "World", "International"),
}
_BOND_WORDS: dict[str, tuple[str, ...]] = {
    "sustainability": ("Green", "Sustainability-Linked"),
    "technology": ("Tech Corporate", "Digital Infrastructure"),
    "healthcare": ("Healthcare Corporate",),
    "dividends": ("Income", "High Yield"),
    "emerging_markets": ("Emerging Market Sovereign", "EM Corporate"),
    "real_estate": ("Covered", "Property"),
    "energy": ("Energy Transition", "Utility"),
    "global": ("Global Aggregate", "Government", "Investment Grade"),
}
_INDUSTRIES: dict[str, tuple[str, ...]] = {
    "sustainability": ("Renewables", "Solar", "Recycling", "Water"),
    "technology": ("Robotics", "Semiconductors", "Software", "Networks", "Analytics"),
    "healthcare": ("Biotech", "Pharma", "Medical", "Diagnostics"),
    "dividends": ("Utilities", "Insurance", "Consumer Brands", "Telecom"),
    "emerging_markets": ("Consumer", "Logistics", "Mining", "Telecom"),
    "real_estate": ("Properties", "Estates", "Realty", "Residential"),
    "energy": ("Energy", "Oil & Gas", "Power", "Hydrogen"),
    "global": ("Industries", "Brands", "Logistics", "Financial"),
}
_CORPORATE: dict[str, tuple[str, ...]] = {
    "europe": ("plc", "AG", "SA", "NV"),
    "north_america": ("Inc.", "Corp."),
    "asia": ("Holdings", "Co. Ltd"),
    "global": ("Group", "International"),
}
_CRYPTO_PRODUCTS = ("Digital Assets ETN", "Crypto Leaders Basket", "Blockchain Basket")
_COIN_HEADS = ("Sol", "Nex", "Lum", "Astr", "Veg", "Orb", "Quant", "Zeph", "Kor", "Hel")
_COIN_TAILS = ("coin", "chain", "ium", "net", "ora")
_SAVINGS: dict[str, tuple[str, ...]] = {
    "sustainability": ("Green Saver", "Green Fixed Saver"),
    "dividends": ("Monthly Income Saver", "Interest Saver"),
    "global": (
        "Easy Access Saver",
        "1-Year Fixed Saver",
        "2-Year Fixed Saver",
        "95-Day Notice Account",
    ),
}

_CLASS_NOUNS = {
    "equity": "A listed company",
    "etf": "An exchange-traded fund",
    "bond": "A bond",
    "fund": "An actively managed fund",
    "crypto": "A crypto asset",
    "savings": "A savings account",
}
_THEME_PHRASES = {
    "sustainability": "focused on the climate transition and responsible business",
    "technology": "exposed to software, chips and automation",
    "healthcare": "exposed to medicine, biotech and an ageing population",
    "dividends": "aiming for a steady, growing income",
    "emerging_markets": "exposed to fast-growing emerging economies",
    "real_estate": "exposed to property and real assets",
    "energy": "exposed to energy producers and the power grid",
    "global": "spread broadly across sectors",
}
# Savings accounts and crypto assets are not sector bets, so their themes read differently.
_CLASS_THEME_PHRASES = {
    ("savings", "sustainability"): "whose deposits fund green lending",
    ("savings", "dividends"): "paying interest every month",
    ("savings", "global"): "keeping cash safe and within reach",
    ("crypto", "technology"): "built on a public blockchain",
    ("crypto", "sustainability"): "secured by low-energy proof of stake",
    ("crypto", "energy"): "tied to energy markets and mining",
    ("crypto", "global"): "tracking the largest digital assets",
}
_REGION_PHRASES = {
    "europe": "in Europe",
    "north_america": "in North America",
    "asia": "in Asia",
    "global": "worldwide",
}
_RISK_WORDS = (
    "",
    "very low",
    "low",
    "low to medium",
    "medium",
    "medium to high",
    "high",
    "very high",
)


def _pick(words: tuple[str, ...], draw: int) -> str:
    return words[draw % len(words)]


def house_name(draw: int) -> str:
    """A fictional issuer; ``draw`` is any non-negative integer."""
    head = _HOUSE_HEADS[draw % len(_HOUSE_HEADS)]
    tail = _HOUSE_TAILS[(draw // len(_HOUSE_HEADS)) % len(_HOUSE_TAILS)]
    return head + tail


def product_title(
    asset_class: str, theme: str, region: str, draws: Sequence[int], maturity: int
) -> str:
    """E.g. "Northwind Global Equity Fund" or "Clearwater Green Bond 2031"; ``draws`` are three
    non-negative integers that pick the words."""
    house = house_name(draws[0])
    theme_word = _pick(_THEME_WORDS[theme], draws[1])
    region_word = _pick(_REGION_WORDS[region], draws[2])
    if asset_class == "fund":
        kind = _pick(("Fund", "Opportunities Fund", "Portfolio", "Fund"), draws[2] // 3)
        return f"{house} {region_word} {theme_word} {kind}"
    if asset_class == "etf":
        kind = _pick(("UCITS ETF", "ETF", "Tracker ETF"), draws[2] // 3)
        return f"{house} {region_word} {theme_word} {kind}"
    if asset_class == "bond":
        return f"{house} {_pick(_BOND_WORDS[theme], draws[1])} Bond {maturity}"
    if asset_class == "equity":
        industry = _pick(_INDUSTRIES[theme], draws[1])
        return f"{house} {industry} {_pick(_CORPORATE[region], draws[2])}"
    if asset_class == "crypto":
        if draws[2] % 3 == 0:
            return f"{house} {_pick(_CRYPTO_PRODUCTS, draws[1])}"
        coin = _pick(_COIN_HEADS, draws[0]) + _pick(_COIN_TAILS, draws[1])
        return f"{coin} ({coin[:3].upper()})"
    return f"{house} {_pick(_SAVINGS.get(theme, _SAVINGS['global']), draws[1])}"


_NUMERALS = ("", "", " II", " III", " IV", " V", " VI", " VII", " VIII", " IX", " X")


def numbered(title: str, occurrence: int) -> str:
    """Tell apart products whose drawn words collide: the second is "... II", and so on."""
    return title + (_NUMERALS[occurrence] if occurrence < len(_NUMERALS) else f" {occurrence}")


def product_text(asset_class: str, theme: str, region: str, risk: int, fee: float) -> str:
    """One sentence a catalogue page would show; content-based models read it."""
    charge = f"an ongoing charge of {fee:.2f}% a year" if fee > 0 else "no ongoing charge"
    focus = _CLASS_THEME_PHRASES.get((asset_class, theme), _THEME_PHRASES[theme])
    return (
        f"{_CLASS_NOUNS[asset_class]} {focus} {_REGION_PHRASES[region]}, "
        f"rated {risk} of 7 for risk ({_RISK_WORDS[risk]}), with {charge}."
    )
