"""Entities by rule: the spans a caller's words name, with normalized values.

Used on its own by the embedding baseline, and by the trained model to turn the spans its
tagger finds into values (`normalize`). Values: order and phone numbers as digits, amounts
as "25.00 USD", dates as ISO when they can be resolved against today, emails lowercased,
names in Title Case, products as the catalogue's canonical name (the domain file's `products:`,
the one catalogue) or, for a product the catalogue lacks, the caller's words.

Relative dates ("on sunday", "this friday") are resolved in the direction the turn implies:
forward when the caller asks about what is coming (opening hours, a delivery, "will", "next"),
backward when they talk about what happened ("I was charged on monday", "ordered", "ago").
"""
from __future__ import annotations

import datetime as dt
import re

from nlu.domain import load_domain
from nlu.events import Entity
from nlu.near import WEEKDAYS, NearMatcher, near_weekdays
from nlu.numbers import number_runs, parse_number, words_to_digits

CURRENCIES = {"dollar": "USD", "dollars": "USD", "bucks": "USD", "usd": "USD", "$": "USD",
              "euro": "EUR", "euros": "EUR", "eur": "EUR", "€": "EUR",
              "pound": "GBP", "pounds": "GBP", "quid": "GBP", "gbp": "GBP", "£": "GBP"}
MONTHS = {m: i + 1 for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                                          "september", "october", "november", "december"])}
MONTHS.update({k[:3]: v for k, v in list(MONTHS.items())})
MONTHS["sept"] = 9
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
            "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
            "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
            "twentieth": 20, "thirtieth": 30}
for _w, _n in [("twenty", 20), ("thirty", 30)]:
    for _o, _m in list(ORDINALS.items())[:9]:
        ORDINALS[f"{_w} {_o}"] = _n + _m
        ORDINALS[f"{_w}-{_o}"] = _n + _m
ORDINAL_RE = "|".join(sorted(map(re.escape, ORDINALS), key=len, reverse=True))
DAY_RE = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{ORDINAL_RE})"
MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
NOT_NAMES = set("""a an the and or but so just calling about here there sorry not really very trying looking having
going gonna wondering still also ok okay yes no yeah hi hello hey um uh like with from to for on in at of my your
this that it is was be been ridiculous terrible awful great fine good bad annoyed upset frustrated angry happy
really calling ringing phoning wanting hoping sure done over tired sick fed glad pleased disappointed confused
unhappy calling concerned worried afraid interested checking asking ready about you me we they he she order number
account phone email product refund return payment card bill billing service support help agent person human""".split())


# cues of the turn's time: a past one wins ("it was supposed to arrive on friday")
PAST_CUES = re.compile(r"\b(was|were|did|didn't|had|ordered|bought|paid|charged|billed|returned|sent|placed|got|"
                       r"came|arrived|broke|happened|ago|last|yesterday|received|called|tried)\b")
FUTURE_CUES = re.compile(r"\b(will|won't|'ll|gonna|going to|open|opening|close|closing|deliver|delivery|arrive|"
                         r"come by|come in|visit|pick up|collect|next|until|coming|tomorrow|can i|could i)\b")
FUTURE_INTENTS = {"store_hours"}


def date_direction(text: str, intent: str | None = None) -> str:
    """"past" or "future": which way a weekday without last/next points in this turn."""
    low = text.lower()
    if PAST_CUES.search(low):
        return "past"
    if intent in FUTURE_INTENTS or FUTURE_CUES.search(low):
        return "future"
    return "past"  # callers mostly talk about what happened


def catalogue(domain_path=None) -> dict[str, list[str]]:
    """The domain file's products and their aliases: the one catalogue."""
    return load_domain(domain_path).product_aliases()


class EntityExtractor:
    def __init__(self, products: dict[str, list[str]] | None = None, today: dt.date | None = None):
        self.products = catalogue() if products is None else products
        self.today = today
        names = {alias.lower(): canon for canon, aliases in self.products.items() for alias in [canon, *aliases]}
        self.product_names = names
        pattern = "|".join(re.escape(n).replace(r"\ ", r"[\s-]+") for n in sorted(names, key=len, reverse=True))
        self.product_re = re.compile(rf"\b(?:{pattern})\b", re.I)
        self.near = NearMatcher(names)

    # ---- the public API
    def extract(self, text: str, intent: str | None = None) -> list[Entity]:
        """`intent`, when known, helps decide which way a relative date points."""
        direction = date_direction(text, intent)
        low = text.lower()
        if len(low) != len(text):  # a case mapping that changes length would break the spans
            low = text
        found: list[Entity] = []
        dates = lambda t, lo: self._dates(t, lo, direction)  # noqa: E731
        for finder in (self._emails, self._amounts, dates, self._phones, self._orders, self._names, self._products):
            for ent in finder(text, low):
                if ent.start < ent.end and not any(ent.start < f.end and f.start < ent.end for f in found):
                    found.append(ent)
        return sorted(found, key=lambda e: e.start)

    def normalize(self, kind: str, words: str, direction: str = "past") -> str:
        """The value of a span another model found (the trained tagger)."""
        low = words.lower().strip()
        if kind in ("order_number", "phone_number"):
            return words_to_digits(low) or low
        if kind == "amount":
            hits = list(self._amounts(words, low))
            if hits:
                return hits[0].value
            value = parse_number(low.replace("$", "").replace("€", "").replace("£", ""))
            return f"{value:.2f} USD" if value is not None else low
        if kind == "date":
            hits = list(self._dates(words, low, direction))
            return hits[0].value if hits else low
        if kind == "email":
            hits = list(self._emails(words, low))
            return hits[0].value if hits else low.replace(" ", "")
        if kind == "product":
            key = re.sub(r"[\s-]+", " ", low)
            if key in self.product_names:
                return self.product_names[key]
            # a span the tagger calls a product: the catalogue's name it nearly is ("macume
            # cleaner": vacuum cleaner), or the caller's words for a product the catalogue lacks
            return self.near.value(low) or low
        if kind == "person_name":
            return " ".join(w.capitalize() for w in low.split())
        return words.strip()

    # ---- finders: each yields Entity spans into `text`
    def _emails(self, text, low):
        for m in re.finditer(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", low):
            yield Entity("email", m.group(), text[m.start():m.end()], m.start(), m.end())
        spoken = r"((?:[a-z0-9]+)(?: (?:dot|underscore|dash) [a-z0-9]+)*) at ([a-z0-9]+(?: dot [a-z0-9]+)+)"
        for m in re.finditer(spoken, low):
            value = m.group(1) + "@" + m.group(2)
            for word, sym in ((" dot ", "."), (" underscore ", "_"), (" dash ", "-")):
                value = value.replace(word, sym)
            yield Entity("email", value.replace(" ", ""), text[m.start():m.end()], m.start(), m.end())

    def _amounts(self, text, low):
        # "$25", "$25.50", "€10", "£5"
        for m in re.finditer(r"([$€£])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?", low):
            value = float(m.group(2).replace(",", "")) + (int(m.group(3).ljust(2, "0")) / 100 if m.group(3) else 0)
            yield self._amount(text, m.start(), m.end(), value, CURRENCIES[m.group(1)])
        # "25 dollars", "twenty five dollars fifty", "twenty five fifty dollars", "ten bucks", "a hundred euros"
        cur_re = r"(dollars?|bucks|euros?|pounds?|quid|usd|eur|gbp)"
        runs = number_runs(low)
        for m in re.finditer(rf"\ba hundred {cur_re}\b", low):
            yield self._amount(text, m.start(), m.end(), 100.0, CURRENCIES[m.group(1)])
        for run in runs:
            after = re.match(rf"\s*{cur_re}\b(?:\s*(?:and\s+)?((?:[a-z]+|\d+)(?:\s+[a-z]+)?)\s*(?:cents?)?)?", low[run.end:])
            if not after:
                continue
            words = list(run.words)
            value = self._spoken_money(words)
            end = run.end + after.end(1)
            cents_words = after.group(2)
            if cents_words and parse_number(cents_words) is None:  # "fifty twice": just "fifty"
                cents_words = cents_words.split()[0]
                after = re.match(rf"\s*{cur_re}\b(?:\s*(?:and\s+)?({re.escape(cents_words)})\s*(?:cents?)?)?", low[run.end:])
            if cents_words:
                cents = parse_number(cents_words)
                tail = low[run.end + after.start(2):run.end + after.end()]
                if cents is not None and cents < 100 and ("cent" in tail or re.fullmatch(r"[a-z]+(\s+[a-z]+)?", cents_words)):
                    value = (value or 0) + cents / 100
                    end = run.end + after.end()
            if value is not None:
                yield self._amount(text, run.start, end, value, CURRENCIES[after.group(1)])

    @staticmethod
    def _spoken_money(words: list[str]) -> float | None:
        """"twenty five fifty" as money is 25.50: a second number group under 100 is cents."""
        whole = parse_number(" ".join(words))
        if len(words) >= 3 and not any(w[0].isdigit() for w in words) and "hundred" not in words:
            for k in range(1, len(words)):
                a, b = parse_number(" ".join(words[:k])), parse_number(" ".join(words[k:]))
                if a is not None and b is not None and 10 <= b < 100 and a < 100 and words[k] not in ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine"):
                    return a + b / 100
        return whole

    def _amount(self, text, start, end, value, currency):
        while end > start and text[end - 1].isspace():
            end -= 1
        return Entity("amount", f"{value:.2f} {currency}", text[start:end], start, end)

    def _dates(self, text, low, direction="past"):
        today = self.today or dt.date.today()
        pats = [
            (r"\b(\d{4})-(\d{2})-(\d{2})\b", lambda m: _date(int(m[1]), int(m[2]), int(m[3]))),
            (r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b", lambda m: self._month_day(today, int(m[1]), int(m[2]), m[3])),
            (rf"\b(?:the\s+)?({DAY_RE})\s+of\s+({MONTH_RE})\b",
             lambda m: self._month_day(today, MONTHS[m[2]], _day(m[1]))),
            (rf"\b({MONTH_RE})\s+(?:the\s+)?({DAY_RE})\b(?!\s*(?:dollars|bucks|euros|pounds))",
             lambda m: self._month_day(today, MONTHS[m[1]], _day(m[2]))),
            (r"\b((?:the\s+)?day\s+(?:after\s+tomorrow|before\s+yesterday)|today|tonight"
             r"|this\s+(?:morning|afternoon|evening)|yesterday|tomorrow)\b",
             lambda m: _relative(today, m[1])),
            (r"\b(?:(last|next|this|on|by|until|till)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
             lambda m: _weekday(today, m[1] or "on", m[2], direction)),
            (r"\b(a|one|two|three|four|five|six|seven|\d{1,2})\s+(day|week)s?\s+ago\b",
             lambda m: today - dt.timedelta(_count(m[1]) * (7 if m[2] == "week" else 1))),
            (r"\b(christmas eve|christmas(?: day)?|new year's eve|new year's day)\b",
             lambda m: _holiday(today, m[1], direction)),
            (r"\b(last|this|next)\s+(week|month)\b", lambda m: None),
        ]
        for pattern, resolve in pats:
            for m in re.finditer(pattern, low):
                if m.group(0).strip() in MONTHS:  # "may" alone is a verb
                    continue
                value = resolve(m)
                yield Entity("date", value.isoformat() if value else m.group(0), text[m.start():m.end()], m.start(), m.end())
        # a weekday heard in pieces or nearly ("satur day", "wensday"): the weekday it names
        for start, end, day in near_weekdays(low):
            before = re.search(r"\b(last|next|this|on|by|until|till)\s+$", low[:start])
            value = _weekday(today, before[1] if before else "on", day, direction)
            start = before.start() if before else start
            yield Entity("date", value.isoformat(), text[start:end], start, end)

    @staticmethod
    def _month_day(today, month, day, year=None):
        if not (1 <= month <= 12 and day and 1 <= day <= 31):
            return None
        if year:
            y = int(year)
            return _date(y + 2000 if y < 100 else y, month, day)
        # no year said: the nearest such date, at most about six months ahead
        for y in (today.year, today.year + 1, today.year - 1):
            d = _date(y, month, day)
            if d and -185 <= (d - today).days <= 185:
                return d
        return _date(today.year, month, day)

    def _phones(self, text, low):
        for m in re.finditer(r"\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b", low):
            yield Entity("phone_number", re.sub(r"\D", "", m.group()), text[m.start():m.end()], m.start(), m.end())
        context = re.compile(r"(phone|cell|mobile|telephone|call me (?:back )?(?:at|on)|reach me (?:at|on)|number is|my number)\W*(?:is\W+|it's\W+)?$")
        for run in number_runs(low):
            digits = run.digits
            if 7 <= len(digits) <= 15 and context.search(low[max(0, run.start - 40):run.start]):
                if "order" in low[max(0, run.start - 25):run.start]:
                    continue
                yield Entity("phone_number", digits, text[run.start:run.end], run.start, run.end)

    def _orders(self, text, low):
        for m in re.finditer(r"#\s?(\d{4,8})\b", low):
            yield Entity("order_number", m.group(1), text[m.start():m.end()], m.start(), m.end())
        for run in number_runs(low):
            digits = run.digits
            if not 4 <= len(digits) <= 8:
                continue
            before = low[max(0, run.start - 30):run.start]
            after = low[run.end:run.end + 12]
            if re.match(r"\s*(dollars?|bucks|euros?|pounds?|cents|percent|%|am|pm|o'clock|minutes|hours|days)", after):
                continue
            # callers answering "what's your order number?" often say the digits alone, so any
            # 4-8 digit run that is not money, a time, a phone number or a year counts
            words = run.words
            if len(words) == 1 and words[0].isdigit() and 1900 <= int(words[0]) <= 2100 and "order" not in before:
                continue
            yield Entity("order_number", digits, text[run.start:run.end], run.start, run.end)

    def _names(self, text, low):
        strong = r"\b(?:my name is|my name's|name is|name's|this is|i'm|i am|it's)\s+([a-z]+(?:\s+[a-z]+)?)"
        for m in re.finditer(strong, low):
            words = m.group(1).split()
            trigger = m.group(0)[:m.start(1) - m.start()].strip()
            if trigger in ("this is", "i'm", "i am", "it's") and words[0] not in FIRST_NAMES:
                continue
            keep = []
            for w in words:
                if w in NOT_NAMES or w in self.product_names or w in MONTHS or w in WEEKDAYS or w.isdigit():
                    break
                keep.append(w)
            if not keep:
                continue
            start = m.start(1)
            end = start + len(" ".join(keep))
            yield Entity("person_name", " ".join(w.capitalize() for w in keep), text[start:end], start, end)

    def _products(self, text, low):
        exact = []
        for m in self.product_re.finditer(low):
            canon = self.product_names[re.sub(r"[\s-]+", " ", m.group())]
            exact.append(Entity("product", canon, text[m.start():m.end()], m.start(), m.end()))
        # near misses of the catalogue's names ("Macume Cleaner", "wife I router"); one that
        # holds an exact name ("router" of "wife I router") replaces it: the longer span
        near = list(self.near.find(low))
        for start, end, canon in near:
            yield Entity("product", canon, text[start:end], start, end)
        for e in exact:
            if not any(s < e.end and e.start < t for s, t, _ in near):
                yield e


def _date(y, m, d):
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _day(word: str) -> int | None:
    word = word.strip()
    if word[0].isdigit():
        return int(re.match(r"\d+", word).group())
    return ORDINALS.get(word)


def _relative(today, words):
    days = {"today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0, "this evening": 0,
            "yesterday": -1, "tomorrow": 1,
            "day before yesterday": -2, "day after tomorrow": 2}[" ".join(words.split()).removeprefix("the ")]
    return today + dt.timedelta(days)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                                             "six": 6, "seven": 7}[word]


HOLIDAYS = {"christmas eve": (12, 24), "christmas": (12, 25), "christmas day": (12, 25),
            "new year's eve": (12, 31), "new year's day": (1, 1)}


def _holiday(today, name, direction):
    month, day = HOLIDAYS[name]
    d = dt.date(today.year, month, day)
    if direction == "future" and d < today:
        return dt.date(today.year + 1, month, day)
    if direction == "past" and d > today:
        return dt.date(today.year - 1, month, day)
    return d


def _weekday(today, which, day, direction="past"):
    delta = WEEKDAYS[day] - today.weekday()
    if which == "last":
        return today + dt.timedelta(delta - 7 if delta >= 0 else delta)
    if which == "next":
        return today + dt.timedelta(delta + 7 if delta <= 0 else delta)
    # "on friday" / "this friday": complaints look back, plans look ahead (today counts either way)
    if direction == "future" or which in ("by", "until", "till"):
        return today + dt.timedelta(delta if delta >= 0 else delta + 7)
    return today + dt.timedelta(delta if delta <= 0 else delta - 7)


FIRST_NAMES = set("""james john robert michael william david richard joseph thomas charles christopher daniel matthew
anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan
jacob gary nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick
raymond jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle noah ethan jeremy walter
christian keith roger terry austin sean gerald carl harold dylan arthur lawrence jordan jesse bryan billy bruce
gabriel joe logan alan juan albert willie elijah wayne randy vincent mason roy ralph bobby russell bradley philip
eugene mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty sandra margaret
ashley kimberly emily donna michelle carol amanda melissa deborah stephanie dorothy rebecca sharon laura cynthia amy
kathleen angela shirley brenda emma anna pamela nicole samantha katherine christine helen debra rachel carolyn janet
maria catherine heather diane olivia julie joyce victoria ruth virginia lauren kelly christina joan evelyn judith
andrea hannah megan cheryl jacqueline martha madison teresa gloria sara janice ann kathryn abigail sophia frances
jean alice judy isabella julia grace amber denise danielle marilyn beverly charlotte natalie theresa diana brittany
doris kayla alexis lori marie priya raj mohammed ahmed fatima wei li chen yuki hiroshi carlos luis ana sofia lucia
omar ali aisha kwame amara""".split())
