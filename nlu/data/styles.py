"""Training material in the ways callers talk, beyond the full-sentence templates of generate.py.

Written from how people speak on service lines, not from the evaluation split
(nlu/data/callers.tsv, hand-written separately and never read here):
- SHORT: fragments and keywords said alone ("refund", "tech support", "my bill"), since on a
  phone menu people answer "how can I help?" with a word or two;
- EXTRA: templates for requests that borrow another intent's words (a suggestion about opening
  hours is not a store-hours question; "no, don't cancel it" is a no);
- openers: a greeting, thanks, an apology or a complaint before the request: the turn keeps the
  request's intent (the opener only changes the sentiment when it is angry or warm);
- disfluencies: fillers inside the sentence, repeated words and false starts;
- products outside the catalogue (OPEN_PRODUCTS), so that "the shoes don't fit" names a product.
Only the training templates of generate.py are dressed here; its held-out templates stay unseen.
"""
from __future__ import annotations

import random
import re

# intent -> (text, sentiment): short turns
SHORT = {
    "greet": [("hey there hi", "neutral"), ("hi hello", "neutral"), ("hello yes hi", "neutral"), ("uh hi", "neutral"),
              ("hi there how are you doing", "positive"), ("afternoon", "neutral"), ("evening", "neutral"),
              ("yes hello", "neutral"), ("good morning hi", "neutral"), ("hi there hello", "neutral")],
    "goodbye": [("bye for now", "neutral"), ("ok bye then", "neutral"), ("see ya", "neutral"), ("bye thanks", "positive"),
                ("that's all for today bye", "neutral"), ("ok goodbye", "neutral"), ("i have to go now bye", "neutral"),
                ("later bye", "neutral"), ("alright goodbye then", "neutral"), ("nothing more thanks goodbye", "positive")],
    "thanks": [("thanks so much", "positive"), ("many thanks", "positive"), ("thank you kindly", "positive"),
               ("ah great thanks", "positive"), ("thanks very much", "positive"), ("that's great thank you", "positive"),
               ("i just called to say thank you", "positive"), ("you guys are great thanks", "positive"),
               ("great service thank you", "positive"), ("i'm really happy with my order thanks", "positive"),
               ("love the new headphones just wanted to thank you", "positive"), ("thanks for the quick help", "positive"),
               ("thank you that's sorted then", "positive"), ("ok thank you", "neutral")],
    "affirm": [("yes go ahead", "neutral"), ("yeah please", "neutral"), ("yes do", "neutral"), ("ok yes", "neutral"),
               ("sure go on", "neutral"), ("that's correct", "neutral"), ("yes it is", "neutral"), ("ok sure", "neutral"),
               ("alright", "neutral"), ("fine yes", "neutral"), ("yes that's the one", "neutral"), ("yes please do that", "neutral"),
               ("ok please", "neutral"), ("mhm", "neutral"), ("yeah yeah", "neutral"), ("go for it", "neutral"),
               ("yes cancel it", "neutral"), ("great yes", "positive"), ("exactly", "neutral")],
    "deny": [("no thank you that's fine", "neutral"), ("no that's ok", "neutral"), ("nope not that", "neutral"),
             ("no i don't", "neutral"), ("no it isn't", "neutral"), ("no don't cancel", "neutral"),
             ("no don't cancel anything", "neutral"), ("no keep the order", "neutral"), ("no stop", "neutral"),
             ("that's wrong", "neutral"), ("no i'm fine", "neutral"), ("nah that's alright", "neutral"),
             ("no not right now", "neutral"), ("i don't think so", "neutral"), ("absolutely not", "negative"),
             ("no leave my order alone", "neutral")],
    "order_status": [("order status please", "neutral"), ("my delivery", "neutral"), ("my package", "neutral"),
                     ("tracking", "neutral"), ("where's my parcel", "neutral"), ("where's my delivery", "neutral"),
                     ("delivery status", "neutral"), ("where is it", "neutral"), ("checking on an order", "neutral"),
                     ("about my order", "neutral"), ("an order i placed", "neutral"), ("has my stuff shipped", "neutral"),
                     ("my parcel never came", "negative"), ("still no package", "negative"),
                     ("my tracking says nothing", "negative"), ("the tracking is stuck", "negative")],
    "cancel_order": [("cancel an order", "neutral"), ("cancel it please", "neutral"), ("order cancellation", "neutral"),
                     ("cancelling an order", "neutral"), ("i'd like to cancel", "neutral"),
                     ("cancel the whole order", "neutral"), ("scrap my order please", "neutral"),
                     ("undo my order", "neutral"), ("don't ship it i want to cancel", "neutral")],
    "return_refund": [("returns", "neutral"), ("a refund", "neutral"), ("refund please", "neutral"),
                      ("return an item", "neutral"), ("money back", "neutral"), ("returning something", "neutral"),
                      ("exchange", "neutral"), ("i want to send it back", "neutral"), ("return policy", "neutral"),
                      ("my refund", "neutral"), ("still no refund", "negative")],
    "billing_problem": [("billing", "neutral"), ("billing please", "neutral"), ("bills", "neutral"), ("my bill", "neutral"), ("a charge", "neutral"), ("charges", "neutral"),
                        ("billing question", "neutral"), ("a billing issue", "neutral"), ("wrong charge", "negative"),
                        ("double charged", "negative"), ("overcharged", "negative"), ("bill problem", "negative"),
                        ("it's about a charge on my card", "neutral"), ("something on my statement", "neutral"),
                        ("money taken from my account", "negative"), ("billing department", "neutral")],
    "payment_methods": [("payment methods", "neutral"), ("paying", "neutral"), ("ways to pay", "neutral"),
                        ("paypal", "neutral"), ("credit card", "neutral"), ("pay with apple pay", "neutral"),
                        ("visa or mastercard", "neutral"), ("can i pay by card", "neutral"),
                        ("pay pal ok", "neutral"), ("do you take amex", "neutral"), ("cash", "neutral")],
    "pricing": [("prices", "neutral"), ("cost", "neutral"), ("how much is it", "neutral"), ("the price please", "neutral"),
                ("what's it cost", "neutral"), ("how much are they", "neutral"), ("any deals", "neutral"),
                ("discount codes", "neutral"), ("what's the {product} going for", "neutral"),
                ("how much for a {product}", "neutral"), ("{product} price", "neutral"), ("sales on at the minute", "neutral")],
    "product_features": [("{product} features", "neutral"), ("specs", "neutral"), ("product information", "neutral"),
                         ("{product} battery life", "neutral"), ("what can it do", "neutral"),
                         ("info on the {product}", "neutral"), ("the {product} what's it like", "neutral"),
                         ("does it have bluetooth", "neutral"), ("is it waterproof", "neutral"),
                         ("details about the {product}", "neutral")],
    "store_hours": [("store hours", "neutral"), ("opening times", "neutral"), ("what time", "neutral"),
                    ("closing time", "neutral"), ("are you open today", "neutral"), ("open sunday", "neutral"),
                    ("when are you open", "neutral"), ("shop hours", "neutral"), ("hours on saturday", "neutral"),
                    ("open late", "neutral"), ("what time you close", "neutral")],
    "update_account": [("my address", "neutral"), ("change of address", "neutral"), ("new address", "neutral"),
                       ("account details", "neutral"), ("update my phone number", "neutral"), ("my email changed", "neutral"),
                       ("i've moved", "neutral"), ("we moved to a new place", "neutral"), ("change my details", "neutral"),
                       ("wrong address on my account", "neutral"), ("new email", "neutral")],
    "password_reset": [("password reset", "neutral"), ("my password", "neutral"), ("login problem", "negative"),
                       ("can't log in", "negative"), ("locked out of my account", "negative"), ("forgot my login", "neutral"),
                       ("reset my login", "neutral"), ("sign in not working", "negative"), ("new password please", "neutral")],
    "technical_support": [("tech support", "neutral"), ("technical help", "neutral"), ("technical problem", "negative"),
                          ("it doesn't work", "negative"), ("it stopped working", "negative"), ("it won't turn on", "negative"),
                          ("broken {product}", "negative"), ("my {product} is broken", "negative"), ("help setting it up", "neutral"),
                          ("the app won't open", "negative"), ("the app freezes", "negative"), ("something's wrong with my {product}", "negative"),
                          ("my {product} won't connect", "negative"), ("technical issue with my {product}", "negative"),
                          ("the app won't let me log in it just hangs", "negative"), ("support for my {product}", "neutral")],
    "cancel_subscription": [("cancel my membership", "neutral"), ("unsubscribe", "neutral"), ("stop premium", "neutral"),
                            ("premium cancellation", "neutral"), ("end my premium", "neutral"), ("cancel the plan", "neutral"),
                            ("stop the monthly payments for premium", "neutral"), ("no more premium please", "neutral"),
                            ("stop my subscription", "neutral"), ("turn off auto renewal", "neutral")],
    "complaint": [("this is terrible", "negative"), ("i'm not happy", "negative"), ("i'm furious", "negative"),
                  ("awful service", "negative"), ("you people are useless", "negative"), ("a complaint", "negative"),
                  ("i'd like to complain", "negative"), ("disgraceful", "negative"), ("really poor service", "negative"),
                  ("i'm so angry", "negative"), ("what a joke", "negative"), ("never again", "negative"),
                  ("your driver was so rude", "negative"), ("i was treated badly in your store", "negative")],
    "suggestion": [("some feedback", "neutral"), ("an idea", "neutral"), ("a suggestion for you", "neutral"),
                   ("i have an idea", "neutral"), ("just a suggestion", "neutral"), ("feedback on the app", "neutral")],
    "human_agent": [("human", "neutral"), ("a human", "neutral"), ("person", "neutral"), ("operator", "neutral"),
                    ("agent please", "neutral"), ("an agent", "neutral"), ("a representative", "neutral"),
                    ("speak to someone", "neutral"), ("talk to a person", "neutral"), ("real human", "neutral"),
                    ("live agent", "neutral"), ("customer service", "neutral"), ("someone real please", "neutral"),
                    ("a real person please", "neutral"), ("supervisor", "negative"), ("manager", "negative"),
                    ("transfer me to someone", "neutral"), ("put me through to somebody in billing", "neutral"),
                    ("can i talk to somebody in returns", "neutral"), ("connect me to a human in tech support", "neutral"),
                    ("enough of this machine give me a person", "negative"), ("i want a real person now", "negative")],
    "out_of_scope": [("weather", "neutral"), ("what's on tv tonight", "neutral"), ("who won the election", "neutral"),
                     ("i need an electrician", "neutral"), ("find me a dentist", "neutral"), ("call me a cab", "neutral"),
                     ("what's the news today", "neutral"), ("how old are you", "neutral"), ("are you married", "neutral"),
                     ("what's the best phone plan", "neutral"), ("do you know a good lawyer", "neutral"),
                     ("translate hello into spanish", "neutral"), ("when was the eiffel tower built", "neutral"),
                     ("what's the speed of light", "neutral"), ("recommend a restaurant nearby", "neutral"),
                     ("i need a doctor's appointment", "neutral"), ("what's the train timetable", "neutral"),
                     ("who is the best football team", "neutral"), ("help me write a poem", "positive"),
                     ("what's the exchange rate for euros", "neutral"), ("order me some flowers", "neutral")],
}

# intent -> (template, sentiment): requests that borrow other intents' words
EXTRA = {
    "suggestion": [("you should deliver on {day}", "neutral"), ("you guys should open earlier", "neutral"),
                   ("maybe stay open later on {day}", "neutral"), ("you ought to accept {payment}", "neutral"),
                   ("i think you should take {payment}", "neutral"), ("it would be nice if you took {payment}", "positive"),
                   ("you should sell more {product} models", "neutral"), ("it'd be cool if the app showed my orders", "positive"),
                   ("maybe add a chat on the website", "neutral"), ("you should send a text before delivery", "neutral"),
                   ("please consider longer return windows", "neutral"), ("why not offer free shipping on everything", "neutral")],
    "deny": [("no don't cancel it", "neutral"), ("no no keep it", "neutral"), ("no i want to keep my order", "neutral"),
             ("no please don't cancel my order", "neutral"), ("no don't send anything", "neutral")],
    "billing_problem": [("you've taken {amount} twice from my card this is a disgrace", "negative"),
                        ("it's outrageous you charged me {amount} for nothing", "negative"),
                        ("i'm livid you billed me twice", "negative")],
    "order_status": [("the tracking page hasn't changed in days", "negative"),
                     ("the tracking number doesn't work", "negative"), ("where's my {product}", "neutral"),
                     ("where are my things", "neutral"), ("where's my stuff i ordered {date}", "neutral")],
    "technical_support": [("the app won't let me in it keeps freezing", "negative"),
                          ("the app crashes on my phone", "negative"), ("i can't get the {product} to work", "negative")],
    "update_account": [("i moved last month so my address is different", "neutral"),
                       ("i've got a new place can you update it", "neutral")],
    "human_agent": [("can you put me through to someone in {dept}", "neutral"), ("i'd like to talk to the {dept} team", "neutral"),
                    ("transfer me to {dept} please", "neutral")],
    "thanks": [("i love your {product} thank you so much", "positive"), ("you've been fantastic thanks", "positive")],
    "pricing": [("what's the {product} selling for", "neutral"), ("what are you asking for the {product}", "neutral")],
}
FILL = {"day": ["sundays", "weekends", "saturday", "bank holidays", "evenings"],
        "payment": ["bitcoin", "crypto", "cheques", "klarna", "venmo", "paypal"],
        "dept": ["billing", "returns", "sales", "tech support", "accounts"]}

# said before a request: (words, sentiment they give the turn, or None to keep the request's)
OPENERS = [("hi", None), ("hello", None), ("hi there", None), ("good morning", None), ("good afternoon", None),
           ("hello good evening", None), ("hi yes hello", None), ("yeah hi", None), ("hey", None),
           ("hello i hope you're well", None), ("hi sorry to bother you", None), ("sorry to trouble you but", None),
           ("excuse me", None), ("thanks for picking up", None), ("thank you for taking my call", None),
           ("oh thanks for answering", None), ("hi i was wondering", None), ("sorry", None),
           ("hi thanks so much for your time", "positive"), ("hello you've always been great so", "positive"),
           ("this is ridiculous", "negative"), ("i'm so fed up", "negative"), ("honestly this is a joke", "negative"),
           ("i've been on hold forever", "negative"), ("i'm really angry", "negative"), ("this is unacceptable", "negative")]
# products and services outside the catalogue: the tagger learns where product words go, not a
# list, and their value is the caller's words
OPEN_PRODUCTS = ["shoes", "blender", "toaster", "microwave", "fridge", "dishwasher", "tv", "television", "printer",
                 "camera", "phone case", "keyboard", "monitor", "desk lamp", "mattress", "sofa", "app", "website",
                 "hair dryer", "jacket", "sneakers", "backpack", "game console", "drone", "e-reader", "washing machine",
                 "office chair", "baby monitor", "rice cooker", "electric toothbrush", "sound bar", "projector"]
POLITE_TAILS = ["please", "if that's ok", "if you don't mind", "if possible", "thanks", "thank you"]
SOCIAL = ("greet", "goodbye", "thanks", "affirm", "deny")


def _fill(template: str, rng: random.Random) -> str:
    """This module's own slots; generate.py's ({product}, {amount}...) are left for its fill."""
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(FILL[m.group(1)]) if m.group(1) in FILL else m.group(0), template)


def disfluent(text: str, rng: random.Random) -> str:
    """Fillers inside the sentence, a repeated word or a false start, as callers speak."""
    words = text.split()
    if len(words) < 3:
        return text
    kind = rng.random()
    i = rng.randrange(1, len(words))
    if kind < 0.4:
        words.insert(i, rng.choice(["um", "uh", "like", "you know", "er", "i mean"]))
    elif kind < 0.7:
        j = rng.randrange(0, min(3, len(words)))
        words[j:j] = words[j:j + rng.choice([1, 2])]  # "can i can i"
    else:
        words[0:0] = rng.choice(["i was um wondering", "uh i was just wondering", "so um", "i wanted to uh",
                                 "okay so basically", "right so"]).split()
    return " ".join(words)


def tag_services(ex: dict) -> dict:
    """Our app is a product too: "the app keeps crashing" names it (training examples only)."""
    for m in re.finditer(r"\bapp\b", ex["text"], re.I):
        if not any(e["start"] < m.end() and m.start() < e["end"] for e in ex["entities"]):
            ex["entities"] = sorted(ex["entities"] + [{"start": m.start(), "end": m.end(), "type": "product",
                                                       "value": "app"}], key=lambda e: e["start"])
    return ex


def open_product(text: str, entities: list[dict], rng: random.Random) -> tuple[str, list[dict]]:
    """The first catalogue product in the example swapped for one the catalogue lacks."""
    for e in entities:
        if e["type"] == "product":
            words = rng.choice(OPEN_PRODUCTS)
            shift = len(words) - (e["end"] - e["start"])
            text = text[:e["start"]] + words + text[e["end"]:]
            out = []
            for f in entities:
                if f is e:
                    out.append({**f, "end": f["start"] + len(words), "value": words})
                elif f["start"] >= e["end"]:
                    out.append({**f, "start": f["start"] + shift, "end": f["end"] + shift})
                else:
                    out.append(f)
            return text, out
    return text, entities


def styled(templates: dict[str, list[tuple[str, str]]], fill, seed: int, per_intent: int = 40) -> list[dict]:
    """Extra training examples: SHORT and EXTRA as they are, and the training templates with
    openers, polite tails and disfluencies. `fill(template, rng)` fills generate.py's slots."""
    rng = random.Random(seed)
    out: list[dict] = []
    catalogue_fill = fill

    def fill(template, rng):  # noqa: F811 (a third of the products come from outside the catalogue)
        text, ents = catalogue_fill(template, rng)
        return open_product(text, ents, rng) if rng.random() < 0.35 else (text, ents)

    def add(text, intent, sentiment, entities=()):
        out.append({"text": text, "intent": intent, "sentiment": sentiment, "entities": list(entities)})

    for intent, items in SHORT.items():
        for text, sentiment in items:
            text, ents = fill(text, rng)
            add(text, intent, sentiment, ents)
    for intent, items in EXTRA.items():
        for template, sentiment in items:
            for _ in range(3):
                text, ents = fill(_fill(template, rng), rng)
                add(text, intent, sentiment, ents)
    for intent, pool in templates.items():
        if intent in SOCIAL:
            continue
        for _ in range(per_intent):
            template, sentiment = rng.choice(pool)
            text, ents = fill(template, rng)
            shift = 0
            style = rng.random()
            if style < 0.5:
                opener, tone = rng.choice(OPENERS)
                if tone == "positive" and intent in ("complaint", "billing_problem"):
                    tone = None  # warm words before a complaint do not make it a happy one
                shift = len(opener) + 1
                text = f"{opener} {text}"
                sentiment = tone or sentiment
            elif style < 0.65:
                text += " " + rng.choice(POLITE_TAILS)
            if rng.random() < 0.35 and not ents:  # word shuffles would move entity spans
                text = disfluent(text, rng)
            add(text, intent, sentiment, [{**e, "start": e["start"] + shift, "end": e["end"] + shift} for e in ents])
    return out
