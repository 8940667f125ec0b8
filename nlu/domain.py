"""The domain file: company knowledge, responses, slots and sample orders (nlu/domain.yml)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.faq import FAQEntry, parse_entries
from nlu.schema import ENTITY_TYPES, INTENTS

DEFAULT = Path(__file__).resolve().parent / "domain.yml"
PROMPTS = ("reask", "unknown_order", "cannot_cancel", "cancelled", "kept", "handover")
# prompts added later: a domain file written before them gets these words
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
OPTIONAL_PROMPTS = {"confirm_handover": "Would you like me to put you through to one of my colleagues?",
                    "not_handed_over": "Okay. What can I help you with?",
                    # the order number asked for twice and not given: the bot lets the question go
                    "no_order_number": "I need the order number for that. You'll find it in your "
                                       "confirmation email. Is there anything else I can help with?"}


@dataclass
class Domain:
    company: str
    greeting: str
    responses: dict[str, list[str]]
    slots: dict[str, list[str]] = field(default_factory=dict)
    ask: dict[str, str] = field(default_factory=dict)
    prompts: dict[str, str] = field(default_factory=dict)
    products: dict[str, dict] = field(default_factory=dict)
    product_responses: dict[str, str] = field(default_factory=dict)
    order_answers: dict[str, str] = field(default_factory=dict)
    orders: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    faq: list[FAQEntry] = field(default_factory=list)
    vocabulary: list[str] = field(default_factory=list)  # names callers say (payments, brands): the ASR prompt
    path: str = ""

    def setting(self, key: str, default):
        return self.settings.get(key, default)

    def asr_prompt(self) -> str:
        """Whisper's prompt: the company, its products and the names callers use, as text the
        line might have carried (Whisper's prompt is the previous text, not a word list)."""
        return (f"{self.company} customer service. Orders, returns and refunds for the "
                f"{', '.join(self.products)}. {', '.join(self.vocabulary)}.").replace(" .", ".")

    def asr_words(self, style: str = "words") -> str:
        """The words callers say that Whisper base mishears ("PayPal" -> "paper", "router" ->
        "Ritter", "saturday" -> "Packer Pay"), as Whisper's previous text for recorded calls
        (asr.domain_prompt): "words" a short list (the catalogue's names, the payment names of
        `vocabulary:`, the weekdays), "sentence" the same as a line an agent might say; "" none.
        Not the company's name: the agent's track gets that first (asr.company_prompt)."""
        if not style:
            return ""
        # not the company's own names ("Brightline Premium"): on a caller's track Whisper writes
        # them into the caller's words (docs/benchmarks.md, "Call archives")
        own = self.company.split()[0].lower() if self.company.split() else ""
        pay = [v for v in self.vocabulary if v.lower() not in {p.lower() for p in self.products}
               and not (own and own in v.lower())]
        if style == "words":
            return ", ".join([*self.products, *pay, *WEEKDAYS]) + "."
        if style == "sentence":
            return (f"Your {', '.join(self.products)}. You can pay with {', '.join(pay)}. "
                    f"{', '.join(WEEKDAYS[:-1])} or {WEEKDAYS[-1]}.")
        raise ValueError(f"asr.domain_prompt: {style!r} is not one of words, sentence (or empty: off)")

    def product_aliases(self) -> dict[str, list[str]]:
        return {name: list(p.get("aliases", [])) for name, p in self.products.items()}


def load_domain(path: str | Path | None = None) -> Domain:
    p = Path(path or DEFAULT)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{p}: no such domain file") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a domain file must be a mapping")

    def fail(key, msg):
        raise ValueError(f"{p}: {key}: {msg}")

    for key in ("company", "greeting", "responses"):
        if key not in data:
            fail(key, "missing")
    responses = data["responses"]
    for intent, texts in responses.items():
        if intent not in INTENTS:
            fail(f"responses.{intent}", f"unknown intent (known: {', '.join(INTENTS)})")
        if isinstance(texts, str):
            responses[intent] = [texts]
        elif not texts or not all(isinstance(t, str) for t in texts):
            fail(f"responses.{intent}", "needs a text or a list of texts")
    missing = [i for i in INTENTS if i not in responses]
    if missing:
        fail("responses", f"no response for intent(s) {', '.join(missing)}")
    for section in ("slots", "product_responses"):
        for intent in data.get(section) or {}:
            if intent not in INTENTS:
                fail(f"{section}.{intent}", "unknown intent")
    for intent, needed in (data.get("slots") or {}).items():
        for ent in needed:
            if ent not in ENTITY_TYPES:
                fail(f"slots.{intent}", f"unknown entity type {ent!r}")
            if ent not in (data.get("ask") or {}):
                fail("ask", f"no question to ask for {ent!r} (needed by slots.{intent})")
    prompts = data.get("prompts") or {}
    for key in PROMPTS:
        if key not in prompts:
            fail(f"prompts.{key}", "missing")
    data["prompts"] = {**OPTIONAL_PROMPTS, **prompts}
    known = {k for k in Domain.__dataclass_fields__ if k != "path"}
    unknown = set(data) - known
    if unknown:
        fail(", ".join(sorted(unknown)), f"unknown key(s) (known: {', '.join(sorted(known))})")
    data["faq"] = parse_entries(data.get("faq"), f"{p}: faq")
    threshold = (data.get("settings") or {}).get("faq_threshold", 0.6)
    if not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        fail("settings.faq_threshold", f"must be a number in (0, 1], not {threshold!r}")
    return Domain(**data, path=str(p))
