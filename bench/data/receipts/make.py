"""Generate the synthetic `receipts` dev set: OCR'd shop receipts (inputs of 200-400 tokens)
and four fields copied out of them verbatim. Seeded: running it again writes the same files.

    .venv/bin/python bench/data/receipts/make.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 14
SIZES = {"train": 150, "test": 60}

SCHEMA = {
    "title": "receipt",
    "description": "Four fields copied verbatim from an OCR'd shop receipt.",
    "type": "object",
    # Declared in reading order, not alphabetically (issue 14: the grammar follows this order).
    "properties": {
        "merchant": {
            "type": "string",
            "maxLength": 60,
            "description": "The shop's name as printed at the top.",
        },
        "date": {"type": "string", "description": "The purchase date exactly as printed."},
        "total": {
            "type": "string",
            "description": "The amount paid (the total line), as printed, without currency.",
        },
        "payment": {
            "type": "string",
            "description": "How it was paid, as printed: card brand (and masked number) or cash.",
        },
    },
    "required": ["merchant", "date", "total", "payment"],
    "additionalProperties": False,
}

FIRST = [
    "Green",
    "Bayside",
    "Nordic",
    "Old Town",
    "Sunrise",
    "Maple",
    "Harbor",
    "Blue Door",
    "Corner",
    "Golden",
    "Riverside",
    "Hilltop",
    "Little",
    "Main Street",
    "Oak & Ash",
    "Silver",
    "Westend",
    "Pine",
    "Copper Kettle",
    "Lakeview",
]
SECOND = [
    "Grocers",
    "Hardware",
    "Bakery",
    "Pharmacy",
    "Market",
    "Deli",
    "Books",
    "Garden Centre",
    "Coffee Co.",
    "Butchers",
    "Wine Shop",
    "Stationers",
    "Pet Supplies",
    "Foods",
    "Home Store",
    "Farm Shop",
    "Electronics",
    "Florist",
]
STREETS = [
    "High St",
    "Station Rd",
    "Church Lane",
    "Market Sq",
    "Mill Road",
    "King St",
    "Victoria Ave",
    "Park Road",
    "Bridge St",
    "Queens Way",
]
TOWNS = [
    "Ashford",
    "Bramley",
    "Carlow",
    "Dunmore",
    "Elmstead",
    "Fairhaven",
    "Glenrock",
    "Hollins",
    "Ivybridge",
    "Kingsmere",
]
ITEMS = [
    "MILK 2L",
    "BREAD WHOLEMEAL",
    "EGGS FREE RANGE 12",
    "BANANAS LOOSE",
    "COFFEE BEANS 500G",
    "TOMATOES VINE",
    "CHEDDAR MATURE",
    "PASTA FUSILLI",
    "OLIVE OIL 1L",
    "RICE BASMATI",
    "APPLES GALA",
    "YOGHURT GREEK",
    "ORANGE JUICE",
    "BUTTER SALTED",
    "CHICKEN THIGHS",
    "SCREWS M4 X20",
    "WOOD GLUE",
    "SANDPAPER P120",
    "LIGHT BULB LED",
    "BATTERIES AA 4PK",
    "NOTEBOOK A5",
    "BALLPOINT PENS",
    "DOG FOOD 2KG",
    "CAT LITTER",
    "ROSES RED",
    "CROISSANT",
    "SOURDOUGH LOAF",
    "CINNAMON BUN",
    "PARACETAMOL 16",
    "PLASTERS",
    "RED WINE",
    "SPARKLING WATER",
    "DARK CHOCOLATE",
    "TEA BAGS 80",
    "DISH SOAP",
    "HDMI CABLE 2M",
    "USB CHARGER",
    "POTTING SOIL",
    "SEED MIX",
    "BIN BAGS",
]
CARDS = ["VISA", "VISA DEBIT", "MASTERCARD", "MAESTRO", "AMEX", "CONTACTLESS VISA"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# Typical OCR confusions, applied to the receipt's noise (item lines, footers), never to the
# four fields, which are copied out as printed.
OCR = {"O": "0", "l": "1", "I": "1", "S": "5", "B": "8", "e": "c", "rn": "m", "a": "o"}


def noisy(rng: random.Random, text: str, rate: float = 0.06) -> str:
    out = text
    for a, b in OCR.items():
        if a in out and rng.random() < rate * len(out) / 10:
            i = out.index(a)
            out = out[:i] + b + out[i + len(a) :]
    return out


def money(rng: random.Random, cents: int, comma: bool) -> str:
    text = f"{cents // 100}.{cents % 100:02d}"
    return text.replace(".", ",") if comma else text


def date_formats(rng: random.Random, y: int, m: int, d: int) -> str:
    return rng.choice(
        [
            f"{y}-{m:02d}-{d:02d}",
            f"{d:02d}/{m:02d}/{y}",
            f"{m:02d}/{d:02d}/{y % 100:02d}",
            f"{MONTHS[m - 1]} {d}, {y}",
            f"{d:02d}.{m:02d}.{y}",
            f"{d} {MONTHS[m - 1].upper()} {y}",
        ]
    )


def receipt(rng: random.Random) -> tuple[str, dict[str, str]]:
    merchant = f"{rng.choice(FIRST)} {rng.choice(SECOND)}"
    if rng.random() < 0.3:
        merchant = merchant.upper()
    comma = rng.random() < 0.3
    currency = rng.choice(["", "EUR ", "GBP ", "$", "£"])
    y, m, d = rng.choice([2023, 2024, 2025]), rng.randint(1, 12), rng.randint(1, 28)
    date = date_formats(rng, y, m, d)
    clock = f"{rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}"
    lines = [merchant]
    if rng.random() < 0.5:
        lines.append(rng.choice(["Est. 1987", "Your local shop", "Fresh every day", "Since 2004"]))
    lines += [
        f"{rng.randint(1, 240)} {rng.choice(STREETS)}, {rng.choice(TOWNS)}",
        f"Tel: 0{rng.randint(1000, 9999)} {rng.randint(100000, 999999)}",
        f"VAT No. GB{rng.randint(100000000, 999999999)}",
        "-" * rng.choice([24, 32, 40]),
        f"{rng.choice(['Date:', 'DATE', ''])} {date}  {clock}".strip(),
        f"Till {rng.randint(1, 9)}  Op {rng.randint(100, 999)}  Trans {rng.randint(1000, 99999)}",
    ]
    subtotal = 0
    count = rng.randint(3, 9)
    for _ in range(count):
        qty = rng.choice([1, 1, 1, 2, 3])
        cents = rng.randint(45, 2499)
        subtotal += qty * cents
        name = noisy(rng, rng.choice(ITEMS))
        if qty > 1:
            lines.append(f"{qty} x {money(rng, cents, comma)}")
        lines.append(f"{name:<22}{money(rng, qty * cents, comma):>8}")
    discount = rng.choice([0, 0, 0, rng.randint(50, 500)])
    total = subtotal - discount
    tax = round(total * rng.choice([0.05, 0.07, 0.2]) / (1 + 0.2))
    lines.append("-" * 24)
    lines.append(f"SUBTOTAL{money(rng, subtotal, comma):>16}")
    if discount:
        lines.append(f"MEMBER DISCOUNT{'-' + money(rng, discount, comma):>10}")
    lines.append(f"{rng.choice(['VAT', 'TAX', 'incl. VAT'])}{money(rng, tax, comma):>16}")
    total_text = money(rng, total, comma)
    lines.append(
        f"{rng.choice(['TOTAL', 'Total', 'TOTAL DUE', 'AMOUNT DUE'])} {currency}{total_text}"
    )
    if rng.random() < 0.3:
        payment = "CASH"
        tendered = total + rng.choice([0, 5, 120, 1000, 2000 - total % 1000])
        lines += [
            f"CASH {currency}{money(rng, tendered, comma)}",
            f"CHANGE {currency}{money(rng, tendered - total, comma)}",
        ]
    else:
        card = rng.choice(CARDS)
        payment = f"{card} ****{rng.randint(0, 9999):04d}" if rng.random() < 0.7 else card
        lines += [
            payment,
            f"AUTH CODE {rng.randint(100000, 999999)}",
            rng.choice(["PIN VERIFIED", "CONTACTLESS", "NO CVM"]),
        ]
    lines += [
        "-" * 24,
        f"Items: {count}",
        noisy(
            rng,
            rng.choice(
                [
                    "Thank you for shopping with us!",
                    "THANK YOU, COME AGAIN",
                    "Thanks for your visit",
                ]
            ),
        ),
        noisy(
            rng,
            f"Returns within 30 days with receipt until "
            f"{date_formats(rng, y + (m == 12), m % 12 + 1, d)}",
        ),
        f"{rng.randint(10**12, 10**13 - 1)}",
    ]
    if rng.random() < 0.5:
        lines.append(
            noisy(
                rng,
                "Join our loyalty club: earn points on every purchase at "
                f"www.{merchant.lower().replace(' ', '').replace('&', '')}.example",
            )
        )
    return "\n".join(lines), {
        "merchant": merchant,
        "date": date,
        "total": total_text,
        "payment": payment,
    }


def main() -> None:
    rng = random.Random(SEED)
    (HERE / "schema.json").write_text(json.dumps(SCHEMA, indent=2) + "\n")
    seen: set[str] = set()
    for split, size in SIZES.items():
        rows = []
        while len(rows) < size:
            text, output = receipt(rng)
            if text in seen:
                continue
            seen.add(text)
            rows.append(json.dumps({"input": text, "output": output}, ensure_ascii=False))
        (HERE / f"{split}.jsonl").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
