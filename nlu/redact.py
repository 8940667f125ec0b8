"""Personal data out of transcripts: spans found and replaced by typed tags.

    >>> redact("my card is four one one one one one one one one one one one one one one one")
    'my card is [CARD]'

What is hidden: payment cards (13-19 digits passing the Luhn check, or any long run said right
after the word "card": a card Whisper misheard by one digit is still a card), the security
code and expiry said with them, emails, phone numbers, other long digit runs (account numbers),
street addresses, dates of birth and person names. Written and spoken forms alike ("four one
one one...", "john dot smith at gmail dot com"), since Whisper writes either.
What stays: order numbers (the dialogue needs them), prices, ordinary dates, products.
Recall matters more than precision here: a hidden order number costs a re-ask, a card number
left in a stored transcript costs a breach. Measured by `voicebot redact-eval`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nlu.entities import MONTHS, NOT_NAMES, WEEKDAYS, EntityExtractor
from nlu.numbers import NUMBER_WORDS, number_runs

TAGS = {"card": "[CARD]", "cvv": "[CVV]", "expiry": "[EXPIRY]", "email": "[EMAIL]", "phone": "[PHONE]",
        "account": "[ACCOUNT]", "address": "[ADDRESS]", "dob": "[DOB]", "name": "[NAME]"}

_NUM = r"\b(?:\d+|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r"|oh)\b"
_NUMS = rf"{_NUM}(?:[\s,/-]+(?:{_NUM}|and|slash))*"
_MONTHS = ("january february march april may june july august september october november december "
           "jan feb mar apr jun jul aug sep sept oct nov dec").split()
_DAYWORDS = r"(?:\d{1,2}(?:st|nd|rd|th)?|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|" \
            r"eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|" \
            r"twentieth|thirtieth|(?:twenty|thirty)[\s-](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth))"
_DATE = rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|(?:the\s+)?{_DAYWORDS}\s+(?:of\s+)?(?:{'|'.join(_MONTHS)})" \
        rf"(?:,?\s+{_NUMS})?|(?:{'|'.join(_MONTHS)})\s+(?:the\s+)?{_DAYWORDS}(?:,?\s+{_NUMS})?|{_NUMS})"
_STREET = ("street st avenue ave road rd lane ln drive dr boulevard blvd court ct way place pl terrace close "
           "crescent parkway highway hwy square circle trail row loop alley grove gardens mews walk").split()
_ADDRESS = re.compile(rf"\b{_NUM}(?:[\s-]+{_NUM})*\s+(?:[a-z]+\s+){{1,3}}(?:{'|'.join(_STREET)})\b\.?"
                      rf"(?:,?\s+(?:apartment|apt|unit|suite|flat)\s+[a-z0-9]+(?:\s+[a-z0-9])?)?")
_CVV = re.compile(rf"\b(?:security code|cvv|cvc|cv2|csc|code on the back|three digit code|four digit code|code)"
                  rf"(?:\s+(?:is|it's|of|number))*\W*({_NUMS})")
_EXPIRY = re.compile(rf"\b(?:expires|expiry|expiration|exp|valid thru|valid through|valid until)"
                     rf"(?:\s+(?:date|is|on|in|at|the|of|it's))*\W*((?:{'|'.join(_MONTHS)})\s+{_NUMS}|{_NUMS})")
_DOB = re.compile(rf"\b(?:born on|born in|born|date of birth|birth date|birthday|d\.?o\.?b\.?)"
                  rf"(?:\s+(?:is|was|it's|on))*\W*({_DATE})")
_NAME_AFTER = re.compile(r"\b(?:mr|mrs|ms|miss|dr)\.?\s+([a-z]+(?:['-][a-z]+)?(?:\s+[a-z]+(?:['-][a-z]+)?)?)")
_NAME_IS = re.compile(r"\b(?:my name is|my name's|name is|name's|the name is)\s+([a-z]+(?:['-][a-z]+)*(?:\s+[a-z]+(?:['-][a-z]+)*)?)")
_NAME_HERE = re.compile(r"^(?:hi |hello |yes |yeah )?([a-z]+(?:\s+[a-z]+)?) (?:here|speaking)\b")
_PHONE = re.compile(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)|\b\d{3})[\s.-]\d{3}[\s.-]\d{4}\b|\+\d{1,3}(?:[\s.-]?\d{2,5}){2,5}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b")
_NOT_CODE = re.compile(r"(coupon|promo|promotional|discount|voucher|gift|zip|postal|post|area|error|country|dial|access|tracking)\s+$")
_ORDER_BEFORE = re.compile(r"(order|reference|ref|tracking|confirmation|invoice|ticket)\b[^.?!]{0,25}$")
_CARD_BEFORE = re.compile(r"(card|visa|mastercard|amex|american express|discover|debit|credit)\b[^.?!]{0,30}$")
_CARD_SAID = re.compile(r"\b(?:card|visa|mastercard|amex)(?:'s)?(?:\s+(?:number|numbers|no|num))?(?:\s+(?:is|it's|reads))?\b")
_EMAIL_SAID = re.compile(r"\be-?mail(?: address)?(?:'s|\s+is|\s+it's|:)\s+")
_EMAIL_END = re.compile(r"[,?!]|\.(?:\s|$)|\s(?:and|thanks|thank|please|so|but|if)\b")
_PHONE_BEFORE = re.compile(r"(phone|cell|mobile|telephone|landline|call me|reach me|text me|number is|my number|"
                           r"callback|call back)\b[^.?!]{0,20}$")


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int
    text: str


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@lru_cache(maxsize=1)
def _extractor():
    return EntityExtractor()


def find(text: str) -> list[Span]:
    """The personal data in `text`, as non-overlapping spans, in order."""
    low = text.lower() if len(text.lower()) == len(text) else text
    found: list[Span] = []

    def add(kind: str, start: int, end: int) -> None:
        while end > start and low[end - 1] in " ,.-":
            end -= 1
        if end > start and not any(start < f.end and f.start < end for f in found):
            found.append(Span(kind, start, end, text[start:end]))

    for m in _PHONE.finditer(low):  # first: its brackets and "+" belong to the number
        add("phone", m.start(), m.end())
    for m in _IBAN.finditer(text):
        add("account", m.start(), m.end())
    for m in _CVV.finditer(low):
        if not _NOT_CODE.search(low[max(0, m.start() - 15):m.start()]):  # a promo code is no secret
            add("cvv", m.start(1), m.end(1))
    for m in _EXPIRY.finditer(low):
        add("expiry", m.start(1), m.end(1))
    for m in _DOB.finditer(low):
        add("dob", m.start(1), m.end(1))
    for m in _ADDRESS.finditer(low):
        add("address", m.start(), m.end())
    for m in _CARD_SAID.finditer(low):  # "card number is 4 times 3 times 148 times 0 3 4 3...":
        end = min([len(low)] + [i for i in (low.find(c, m.end()) for c in ".?!") if i >= 0])
        runs = [r for r in number_runs(low[:end]) if r.start >= m.end()]
        if sum(len(r.digits) for r in runs) >= 12:  # ... Whisper's words between digits hide no less
            add("card", runs[0].start, runs[-1].end)
    for run in number_runs(low):
        digits, start = run.digits, run.start
        if m := re.search(r"\b(?:oh|o)\s+$", low[max(0, start - 4):start]):  # a run never starts with "oh"
            start -= len(m.group())
        before = low[max(0, start - 40):start]
        if _ORDER_BEFORE.search(before) and len(digits) <= 12:
            continue  # the order number the dialogue needs
        if 13 <= len(digits) <= 19 and luhn(digits):
            add("card", start, run.end)
        elif len(digits) >= 12 and _CARD_BEFORE.search(before):
            add("card", start, run.end)  # one Whisper misheard: a digit lost, or a repeated one doubled
        elif (7 <= len(digits) <= 15 and _PHONE_BEFORE.search(before)
              or len(digits) in (10, 11) and not _CARD_BEFORE.search(before)):
            add("phone", start, run.end)
        elif len(digits) >= 9:
            add("account", start, run.end)
    for m in _EMAIL_SAID.finditer(low):  # "my email is in.legmail.com": Whisper lost the "at"
        stop = _EMAIL_END.search(low, m.end())
        said = low[m.end():stop.start() if stop else len(low)]
        if len(said.split()) <= 8 and (" dot " in said or " at " in said or re.search(r"\.[a-z]{2,}\b", said)):
            add("email", m.end(), m.end() + len(said))
    for m in _spoken_emails(low):
        add("email", *m)
    for rx in (_NAME_IS, _NAME_HERE):  # before the extractor's names: these take "o'connor" whole
        for m in rx.finditer(low):
            name = _name_words(m.group(1))
            if name:
                add("name", m.start(1), m.start(1) + len(name))
    for ent in _extractor().extract(text):
        if ent.type == "email":
            add("email", ent.start, ent.end)
        elif ent.type == "phone_number" and not _ORDER_BEFORE.search(low[max(0, ent.start - 40):ent.start]):
            add("phone", ent.start, ent.end)
        elif ent.type == "person_name":
            add("name", ent.start, ent.end)
    for m in _NAME_AFTER.finditer(low):
        add("name", m.start(), m.end())
    return sorted(found, key=lambda s: s.start)


# the domain said ("gmail dot com") or half written, as Whisper often gives it ("at brightlinehome.com")
_EMAIL_DOMAIN = re.compile(r"\bat\s+([a-z0-9]+(?:[\s-][a-z0-9]+)?(?:\s+dot\s+[a-z]{2,})+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})\b")
_EMAIL_STOP = set("is it's its to at email e-mail address me my the send reach and was on or mail use "
                  "it them this that one online there here us you bought ordered got".split())


def _spoken_emails(low: str):
    """"john dot smith at gmail dot com", "accounts at acme widgets dot com", "help at acme.com":
    the domain ends in "dot" + a word (or is written); the name before "at" is up to three words,
    stopping at words like "is" (and "it": "bought it at amazon.com" is a shop, not a mailbox)."""
    for m in _EMAIL_DOMAIN.finditer(low):
        words = list(re.finditer(r"[a-z0-9'+]+", low[:m.start()]))
        start, taken, i = m.start(), 0, len(words) - 1
        while i >= 0 and taken < 3 and words[i].group() not in _EMAIL_STOP:
            if low[words[i].end():start].strip():  # punctuation between: not the same name
                break
            start = words[i].start()
            if words[i].group() not in ("dot", "underscore", "dash"):
                taken += 1
            i -= 1
        if start < m.start():
            yield start, m.end()


def _name_words(words: str) -> str:
    keep = []
    for w in words.split():
        if w in NOT_NAMES or w in MONTHS or w in WEEKDAYS or w.isdigit():
            break
        keep.append(w)
    return " ".join(keep)


def redact(text: str) -> str:
    """`text` with each span of personal data replaced by its tag."""
    out, at = [], 0
    for s in find(text):
        out += [text[at:s.start], TAGS[s.kind]]
        at = s.end
    return "".join(out) + text[at:]


# entity values the dialogue and the analytics need; the others are personal data
KEEP_ENTITIES = {"order_number", "amount", "date", "product", "time", "quantity"}
ENTITY_TAGS = {"email": "[EMAIL]", "phone_number": "[PHONE]", "person_name": "[NAME]"}


def redact_turn(turn: dict) -> dict:
    """A stored turn (transcript or call record) without personal data: its text, the bot's
    reply (which may read an email back) and the values of personal entities."""
    out = dict(turn)
    for key in ("text", "reply"):
        if isinstance(out.get(key), str):
            out[key] = redact(out[key])
    if isinstance(out.get("entities"), list):
        out["entities"] = [e if not isinstance(e, dict) or e.get("type") in KEEP_ENTITIES else
                           {**e, "value": ENTITY_TAGS.get(e.get("type"), "[REDACTED]"),
                            **({"text": redact(e["text"])} if isinstance(e.get("text"), str) else {})}
                           for e in out["entities"]]
    cut = out.get("reply_cut")
    if isinstance(cut, dict) and isinstance(cut.get("heard_text"), str):
        out["reply_cut"] = {**cut, "heard_text": redact(cut["heard_text"])}
    return out
