"""Generate the default domain's NLU data: nlu/data/train.jsonl and nlu/data/test.jsonl.

Templates written for this project, filled with slot values said the way callers say them
and written the way Whisper writes them (digits or number words, lowercase without
punctuation, fillers, a few typical misrecognitions). Spans are computed here, so they are
always right. The test split is made from templates the training split never uses, so its
scores say how the model does on new phrasings, not on new slot values.

    .venv/bin/python -m nlu.data.generate        # rewrites both files (deterministic)
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

from nlu.data.styles import styled, tag_services

HERE = Path(__file__).resolve().parent
SEED = 20261124
TRAIN_PER_INTENT = 72
TEST_PER_INTENT = 18

# intent -> list of (template, sentiment). The last TEST_TEMPLATES of each list are held out.
TEST_TEMPLATES = 3
T = {
    "greet": [
        ("hi there", "neutral"), ("hello", "neutral"), ("good morning", "neutral"), ("hey how are you", "positive"),
        ("hi this is {name}", "neutral"), ("hello my name is {name}", "neutral"), ("good afternoon", "neutral"),
        ("hey there", "neutral"), ("hi good evening", "neutral"), ("hello is anyone there", "neutral"),
        ("hiya", "neutral"), ("morning", "neutral"), ("hello hello", "neutral"), ("hi my name's {name}", "neutral"),
        ("hey good morning this is {name}", "neutral"), ("hello there", "neutral"), ("hi hi", "neutral"),
        ("hello good morning", "neutral"), ("hey hi", "neutral"), ("good evening", "neutral"),
        ("hi it's {name} here", "neutral"), ("well hello there nice to talk to you", "positive"),
        ("good day to you", "neutral"),
    ],
    "goodbye": [
        ("bye", "neutral"), ("goodbye", "neutral"), ("bye bye", "neutral"), ("that's all bye", "neutral"),
        ("ok that's everything goodbye", "neutral"), ("see you", "neutral"), ("have a good day bye", "positive"),
        ("i'm done for now bye", "neutral"), ("talk to you later", "neutral"), ("alright bye now", "neutral"),
        ("that will be all thank you bye", "positive"), ("ok i'm hanging up now", "neutral"),
        ("nothing else goodbye", "neutral"), ("cheers bye", "positive"),
        ("ok that's it for today see ya", "neutral"), ("take care goodbye", "positive"),
    ],
    "thanks": [
        ("thank you", "positive"), ("thanks a lot", "positive"), ("thank you so much", "positive"),
        ("thanks that's really helpful", "positive"), ("great thanks", "positive"), ("perfect thank you", "positive"),
        ("thanks for your help", "positive"), ("awesome thanks", "positive"), ("cheers thanks", "positive"),
        ("thank you very much", "positive"), ("ok thanks", "neutral"), ("thanks i appreciate it", "positive"),
        ("that's wonderful thank you", "positive"), ("brilliant thanks a million", "positive"),
        ("you've been very helpful thanks", "positive"), ("much appreciated", "positive"),
    ],
    "affirm": [
        # a yes that repeats what it agrees to ("Shall I cancel it?" "Yes, please cancel it."): the
        # action's words must not pull it to deny or to the action's own intent
        ("yes please cancel it", "neutral"), ("yes go ahead and cancel it", "neutral"), ("yes put me through", "neutral"),
        ("yes", "neutral"), ("yeah", "neutral"), ("yes please", "neutral"), ("sure", "neutral"),
        ("correct", "neutral"), ("that's right", "neutral"), ("yep", "neutral"), ("ok go ahead", "neutral"),
        ("absolutely", "positive"), ("yes do it", "neutral"), ("uh huh", "neutral"), ("definitely", "positive"),
        ("yes that's correct", "neutral"), ("sounds good", "positive"), ("yeah sure go for it", "neutral"),
        ("that's it exactly", "neutral"), ("right yes", "neutral"),
    ],
    "deny": [
        ("no don't cancel it", "neutral"), ("no please keep it", "neutral"), ("no i'll keep the order", "neutral"),
        ("no", "neutral"), ("nope", "neutral"), ("no thanks", "neutral"), ("no that's wrong", "negative"),
        ("not really", "neutral"), ("no don't do that", "neutral"), ("nah", "neutral"), ("that's not right", "negative"),
        ("no please don't", "neutral"), ("negative", "neutral"), ("no i don't want that", "neutral"),
        ("no no no", "negative"), ("no leave it as it is", "neutral"), ("i'd rather not", "neutral"),
        ("not at all", "neutral"), ("no keep it", "neutral"),
    ],
    "order_status": [
        ("where is my order", "neutral"), ("i want to check the status of my order", "neutral"),
        ("can you tell me where my order {order} is", "neutral"), ("my order number is {order}", "neutral"),
        ("it's {order}", "neutral"), ("order {order}", "neutral"), ("the order number is {order}", "neutral"),
        ("has my {product} shipped yet", "neutral"), ("when will my order arrive", "neutral"),
        ("i ordered a {product} on {date} and it hasn't arrived", "negative"),
        ("where the hell is my order", "negative"), ("track my package please", "neutral"),
        ("i'm calling about order {order} when is it coming", "neutral"), ("any update on my delivery", "neutral"),
        ("i'd like to track order number {order}", "neutral"), ("it was supposed to arrive {date}", "negative"),
        ("hi this is {name} calling about my order", "neutral"), ("my order from {date} still isn't here", "negative"), ("is my {product} on its way", "neutral"),
        ("what's the delivery status of {order}", "neutral"),
        ("i've been waiting forever for my order {order}", "negative"),
        ("can you look up my order please the number's {order}", "neutral"),
        ("has order {order} been dispatched", "neutral"), ("i placed an order {date} how long until it gets here", "neutral"),
        ("sure it's order number {order}", "neutral"),
    ],
    "cancel_order": [
        ("i want to cancel my order", "neutral"), ("cancel order {order}", "neutral"),
        ("can i cancel the {product} i ordered", "neutral"), ("please cancel my order number {order}", "neutral"),
        ("i need to cancel an order i placed {date}", "neutral"), ("i changed my mind cancel the order", "neutral"),
        ("how do i cancel my purchase", "neutral"), ("my name is {name} and i want to cancel an order", "neutral"), ("stop my order {order} i don't want it anymore", "negative"),
        ("i'd like to cancel order number {order}", "neutral"), ("cancel it the order number is {order}", "neutral"),
        ("i ordered the wrong {product} can you cancel it", "neutral"), ("is it too late to cancel my order", "neutral"),
        ("get rid of my order i don't need it", "neutral"), ("i want to call off my purchase of the {product}", "neutral"),
        ("could you cancel the order i made {date}", "neutral"), ("please stop the shipment of order {order}", "neutral"),
        ("kill that order please", "neutral"), ("i wanna cancel {order}", "neutral"),
        ("i'd like my order {order} cancelled please", "neutral"), ("i don't want the {product} anymore cancel it", "neutral"),
    ],
    "return_refund": [
        ("i want to return my {product}", "neutral"), ("how do i get a refund", "neutral"),
        ("i'd like my money back for order {order}", "negative"), ("can i return an item", "neutral"),
        ("the {product} is broken i want a refund", "negative"), ("what's your return policy", "neutral"),
        ("i returned the {product} on {date} where's my refund", "negative"),
        ("i want to send back the {product} i bought", "neutral"), ("refund me {amount} please", "neutral"),
        ("i still haven't got my refund of {amount}", "negative"), ("how long do refunds take", "neutral"),
        ("can i exchange my {product}", "neutral"), ("the item doesn't fit i want to return it", "neutral"),
        ("i need a return label for order {order}", "neutral"), ("the {product} arrived damaged can i get my money back", "negative"),
        ("is it possible to get a refund for the {product}", "neutral"), ("i'd like to return order {order}", "neutral"),
        ("i sent the {product} back {date} but no refund yet", "negative"), ("i want my {amount} back", "negative"),
    ],
    "billing_problem": [
        ("i was charged twice", "negative"), ("there's a wrong charge on my card", "negative"),
        ("you charged me {amount} but it should be less", "negative"), ("my bill is wrong", "negative"),
        ("i see a charge of {amount} i don't recognize", "negative"), ("why was i billed {amount} on {date}", "negative"),
        ("i got double charged for order {order}", "negative"), ("there's a problem with my invoice", "neutral"),
        ("i was billed for something i didn't buy", "negative"), ("my payment went through twice", "negative"),
        ("can you explain this charge of {amount}", "neutral"), ("i paid {amount} on {date} and got charged again", "negative"), ("i think there's a billing error", "neutral"),
        ("the amount on my statement is wrong", "negative"), ("you took {amount} from my account without asking", "negative"),
        ("i was overcharged for my {product}", "negative"), ("there's an extra charge on my bill from {date}", "negative"),
        ("why is my bill so high this month", "negative"), ("i was charged for my subscription even though i cancelled", "negative"),
        ("you billed me twice on {date} for the same thing", "negative"), ("there's a charge of {amount} on my statement that isn't mine", "negative"),
    ],
    "payment_methods": [
        ("what payment methods do you accept", "neutral"), ("can i pay with paypal", "neutral"),
        ("do you take credit cards", "neutral"), ("can i pay cash on delivery", "neutral"),
        ("is apple pay accepted", "neutral"), ("how can i pay for my order", "neutral"),
        ("do you accept debit cards", "neutral"), ("can i use a gift card to pay", "neutral"),
        ("what are my options for paying", "neutral"), ("can i pay in installments", "neutral"),
        ("do you take american express", "neutral"), ("can i pay by bank transfer", "neutral"),
        ("which cards can i use", "neutral"), ("is google pay an option", "neutral"),
        ("what forms of payment are okay", "neutral"), ("you guys take visa right", "neutral"),
        ("can i split the payment", "neutral"),
    ],
    "pricing": [
        ("how much is the {product}", "neutral"), ("what does the {product} cost", "neutral"),
        ("what's the price of the {product}", "neutral"), ("is the {product} on sale", "neutral"),
        ("how much do you charge for shipping", "neutral"), ("do you have any discounts", "neutral"),
        ("is the {product} more than {amount}", "neutral"), ("can i get the {product} for under {amount}", "neutral"),
        ("i saw the {product} for {amount} somewhere else", "neutral"), ("how much would a {product} set me back", "neutral"),
        ("what's the cheapest {product} you have", "neutral"), ("are there any deals on the {product}", "neutral"),
        ("why is the {product} so expensive", "negative"), ("does the price include tax", "neutral"),
        ("what do you sell the {product} for", "neutral"), ("tell me the cost of the {product}", "neutral"),
        ("is there a promo code", "neutral"), ("how pricey is the {product}", "neutral"),
        ("can you give me a price for the {product}", "neutral"), ("is it cheaper than {amount}", "neutral"),
    ],
    "product_features": [
        ("does the {product} have bluetooth", "neutral"), ("what are the features of the {product}", "neutral"),
        ("is the {product} waterproof", "neutral"), ("how long does the battery last on the {product}", "neutral"),
        ("tell me about the {product}", "neutral"), ("what colors does the {product} come in", "neutral"),
        ("does the {product} come with a warranty", "neutral"), ("is the {product} compatible with my phone", "neutral"),
        ("what's the difference between the {product} and the {product2}", "neutral"),
        ("how big is the {product}", "neutral"), ("can the {product} connect to wifi", "neutral"),
        ("what specs does the {product} have", "neutral"), ("does the {product} support voice control", "neutral"),
        ("is the {product} any good", "neutral"), ("how heavy is the {product}", "neutral"),
        ("what comes in the box with the {product}", "neutral"), ("does the {product} work with alexa", "neutral"),
        ("explain what the {product} can do", "neutral"),
    ],
    "store_hours": [
        ("what are your opening hours", "neutral"), ("when do you open", "neutral"),
        ("are you open on sunday", "neutral"), ("what time do you close today", "neutral"),
        ("what are your store hours", "neutral"), ("is the store open on holidays", "neutral"),
        ("how late are you open", "neutral"), ("are you open right now", "neutral"),
        ("what time does the shop open tomorrow", "neutral"), ("when does your customer service close", "neutral"),
        ("are you open on the weekend", "neutral"), ("what hours are you guys open", "neutral"),
        ("until when can i come by today", "neutral"), ("what time do your doors open in the morning", "neutral"),
        ("is the shop open late on fridays", "neutral"), ("when can i visit the store", "neutral"),
        ("do you close early on saturdays", "neutral"),
    ],
    "update_account": [
        ("i need to change my address", "neutral"), ("this is {name} my new number is {phone}", "neutral"),
        ("you can reach me on {phone} from now on", "neutral"), ("update my email to {email}", "neutral"),
        ("i want to change my phone number to {phone}", "neutral"), ("can you update my account details", "neutral"),
        ("my new email is {email}", "neutral"), ("please change the name on my account to {name}", "neutral"),
        ("i moved and need to update my shipping address", "neutral"), ("my number changed it's now {phone}", "neutral"),
        ("how do i edit my profile", "neutral"), ("change my count email to {email}", "neutral"),
        ("i want to update my billing address", "neutral"), ("can you put {phone} as my contact number", "neutral"),
        ("update the phone on my account please", "neutral"), ("i'd like to change my account information", "neutral"),
        ("can my email be changed to {email}", "neutral"), ("switch my contact number to {phone}", "neutral"),
        ("the name on the account should be {name}", "neutral"), ("my email's {email} now please update it", "neutral"),
    ],
    "password_reset": [
        ("i forgot my password", "neutral"), ("i can't log in", "negative"), ("reset my password please", "neutral"),
        ("how do i change my password", "neutral"), ("i'm locked out of my account", "negative"),
        ("my pass word isn't working", "negative"), ("send a reset link to {email}", "neutral"),
        ("i didn't get the password reset email", "negative"), ("i can't sign in to my count", "negative"),
        ("i need a new password", "neutral"), ("{name} here i forgot my password", "neutral"), ("the login page says my password is wrong", "negative"),
        ("help me recover my account my email is {email}", "neutral"), ("i keep getting locked out", "negative"),
        ("how can i reset my login", "neutral"), ("my account is locked can you unlock it", "negative"),
        ("i don't remember my password", "neutral"), ("can you reset the password for {email}", "neutral"),
    ],
    "technical_support": [
        ("my {product} won't turn on", "negative"), ("the {product} keeps disconnecting", "negative"),
        ("i need help setting up my {product}", "neutral"), ("the app keeps crashing", "negative"),
        ("my {product} is making a weird noise", "negative"), ("how do i connect the {product} to wifi", "neutral"),
        ("the {product} stopped working after an update", "negative"), ("it won't charge", "negative"), ("my {product} broke {date}", "negative"),
        ("since {date} my {product} won't connect", "negative"),
        ("i can't pair my {product}", "negative"), ("the screen on my {product} is frozen", "negative"),
        ("how do i reset the {product} to factory settings", "neutral"), ("the {product} is not working properly", "negative"),
        ("my {product} keeps restarting", "negative"), ("i'm having trouble installing the {product}", "neutral"),
        ("the {product} shows an error code", "neutral"), ("the {product} overheats", "negative"),
        ("the light on my {product} is blinking red", "neutral"), ("can someone help me troubleshoot my {product}", "neutral"),
        ("the sound on my {product} cuts out", "negative"),
    ],
    "cancel_subscription": [
        ("i want to cancel my subscription", "neutral"), ("stop my premium membership", "neutral"),
        ("how do i unsubscribe", "neutral"), ("cancel my premium plan", "neutral"),
        ("i don't want to be charged monthly anymore", "negative"), ("end my subscription please", "neutral"),
        ("how can i stop the auto renewal", "neutral"), ("i'd like to close my membership", "neutral"),
        ("please turn off my recurring payment", "neutral"), ("i want out of the monthly plan", "negative"),
        ("can i pause my subscription", "neutral"), ("terminate my premium account", "neutral"),
        ("i no longer want the premium service", "neutral"), ("stop renewing my plan", "neutral"),
        ("unsubscribe me from premium", "neutral"), ("how do i cancel the membership before it renews", "neutral"),
        ("i want to quit my subscription", "neutral"),
    ],
    "complaint": [
        ("this is the worst service ever", "negative"), ("i'm very unhappy with your company", "negative"), ("i paid {amount} for junk", "negative"),
        ("the courier never showed up {date}", "negative"),
        ("this is ridiculous nobody is helping me", "negative"), ("i want to make a complaint", "negative"),
        ("your delivery guy was rude", "negative"), ("i'm fed up with this", "negative"),
        ("the {product} i got is terrible quality", "negative"), ("i've called five times and nothing happens", "negative"),
        ("you people never answer emails", "negative"), ("i'm really disappointed with order {order}", "negative"),
        ("this is unacceptable", "negative"), ("i'm so frustrated with you guys", "negative"),
        ("your staff was incredibly unhelpful", "negative"), ("i want to file a formal complaint", "negative"),
        ("this is a joke i've been waiting for weeks", "negative"), ("your customer service is awful", "negative"),
        ("nobody ever calls me back", "negative"), ("i'm extremely annoyed with how i've been treated", "negative"),
        ("this company is a disgrace", "negative"), ("i keep getting passed around and nobody fixes anything", "negative"),
    ],
    "suggestion": [
        ("you should add more payment options", "neutral"), ("it would be nice to have a live chat", "positive"),
        ("i have a suggestion for your website", "neutral"), ("you could make the app easier to use", "neutral"),
        ("have you thought about selling {product} accessories", "neutral"), ("please add dark mode to the app", "neutral"),
        ("it'd be great if you delivered on weekends", "positive"), ("i think you should open a store near me", "neutral"),
        ("a loyalty program would be nice", "positive"), ("my idea is to send tracking by text", "neutral"),
        ("you should offer gift wrapping", "neutral"), ("maybe extend your opening hours", "neutral"),
        ("i'd love to see more colors of the {product}", "positive"), ("here's some feedback make the checkout faster", "neutral"),
        ("consider adding a return drop off point", "neutral"), ("it would help if the manual had more pictures", "neutral"),
        ("just a thought you could email receipts", "neutral"), ("one suggestion would be cheaper shipping", "neutral"),
    ],
    "human_agent": [
        ("i want to talk to a human", "neutral"), ("let me speak to a real person", "negative"),
        ("can i talk to an agent", "neutral"), ("put me through to a representative", "neutral"),
        ("get me a manager", "negative"), ("i don't want to talk to a robot", "negative"),
        ("transfer me to customer service", "neutral"), ("operator please", "neutral"), ("can someone call me back on {phone}", "neutral"),
        ("have a person ring me at {phone}", "neutral"),
        ("is there a person i can speak with", "neutral"), ("connect me to someone who can help", "neutral"),
        ("i need to speak to your supervisor", "negative"), ("human please", "neutral"),
        ("can i get a real agent on the line", "neutral"), ("stop the bot and get me a person", "negative"),
        ("let me talk to somebody", "neutral"), ("i'd like to speak with a live agent", "neutral"),
        ("give me a real human being", "negative"), ("could you transfer me to a staff member", "neutral"),
    ],
    "out_of_scope": [
        ("what's the weather like today", "neutral"), ("tell me a joke", "positive"), ("who won the game last night", "neutral"),
        ("how do i make pancakes", "neutral"), ("what's the capital of france", "neutral"),
        ("can you book me a flight", "neutral"), ("what's the meaning of life", "neutral"), ("play some music", "neutral"),
        ("how tall is mount everest", "neutral"), ("do you like pizza", "neutral"), ("what's two plus two", "neutral"),
        ("can you recommend a good movie", "neutral"), ("i need a taxi", "neutral"), ("what time is it in tokyo", "neutral"),
        ("sing me a song", "positive"), ("who is the president", "neutral"), ("how do i fix my car", "neutral"),
        ("where can i buy concert tickets", "neutral"), ("what should i cook for dinner", "neutral"),
    ],
}

PRODUCTS = {"wireless headphones": ["wireless headphones", "headphones", "earbuds", "headset"],
            "coffee maker": ["coffee maker", "coffee machine"], "smart speaker": ["smart speaker"],
            "laptop": ["laptop"], "phone charger": ["phone charger", "charger"],
            "vacuum cleaner": ["vacuum cleaner", "vacuum", "hoover"], "air fryer": ["air fryer"],
            "smart watch": ["smart watch", "smartwatch"], "bluetooth speaker": ["bluetooth speaker"],
            "electric kettle": ["electric kettle", "kettle"], "tablet": ["tablet"],
            "wifi router": ["wifi router", "router", "modem"], "premium subscription": ["premium subscription", "premium plan"],
            "gift card": ["gift card"]}
NAMES = ["sarah jones", "john smith", "maria garcia", "david lee", "emma brown", "james wilson", "priya patel",
         "michael chen", "laura martin", "robert taylor", "anna kowalski", "omar hassan", "lisa wong", "peter novak"]
ORDERS = ["4567", "1234", "7890", "2468", "1357", "9012", "3344", "5821", "60714", "83920", "112358", "4410"]
DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
TENS_WORDS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}
TEENS_WORDS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
DATES = ["yesterday", "last friday", "last week", "on monday", "march third", "the 5th of june", "11/02", "today",
         "two days ago", "last tuesday", "the first of october", "november 12th", "this morning", "last month"]
FILLERS = ["um", "uh", "so", "like", "you know", "well", "okay so", "yeah", "hi", "hello", "so yeah", "right"]
NEGATIVE_TAGS = ["this is really frustrating", "i'm so annoyed", "honestly this is a mess", "seriously",
                 "i'm not happy about this", "this is getting ridiculous"]
POSITIVE_TAGS = ["thanks so much", "that would be great", "you guys are awesome", "i really appreciate it",
                 "thank you kindly", "lovely"]
# Whisper's typical slips on phone audio (written as it writes them)
MISHEARD = [("account", "count"), ("password", "pass word"), ("order", "or der"), ("refund", "re fund"),
            ("cancel", "cancer"), ("subscription", "subscript shun"), ("charged", "charge"), ("email", "e mail")]


def say_digits(digits: str, rng: random.Random) -> str:
    style = rng.random()
    if style < 0.35:
        return digits
    if style < 0.75 or len(digits) % 2:
        return " ".join(DIGIT_WORDS[int(d)] if d != "0" or rng.random() < 0.5 else "oh" for d in digits)
    pairs = []
    for i in range(0, len(digits), 2):
        a, b = int(digits[i]), int(digits[i + 1])
        if a == 0:
            return " ".join(DIGIT_WORDS[int(d)] for d in digits)
        pairs.append(TEENS_WORDS[b] if a == 1 else TENS_WORDS[a] + ("" if b == 0 else " " + DIGIT_WORDS[b]))
    return " ".join(pairs)


def say_amount(rng: random.Random) -> tuple[str, str]:
    whole = rng.choice([5, 10, 12, 15, 19, 20, 25, 30, 45, 49, 60, 75, 99, 120, 150, 200])
    cents = rng.choice([0, 0, 0, 50, 99, 25])
    cur = rng.choice(["USD", "USD", "USD", "EUR", "GBP"])
    value = f"{whole + cents / 100:.2f} {cur}"
    style = rng.random()
    sym = {"USD": "$", "EUR": "€", "GBP": "£"}[cur]
    word = {"USD": "dollars", "EUR": "euros", "GBP": "pounds"}[cur]
    if style < 0.4:
        return (f"{sym}{whole}" + (f".{cents:02d}" if cents else "")), value
    if style < 0.6:
        return f"{whole}" + (f".{cents:02d}" if cents else "") + f" {word}", value
    spoken = _spoken_number(whole)
    if cents:
        return f"{spoken} {word} and {_spoken_number(cents)} cents", value
    return f"{spoken} {word}", value


def _spoken_number(n: int) -> str:
    if n < 10:
        return DIGIT_WORDS[n]
    if n < 20:
        return TEENS_WORDS[n - 10]
    if n < 100:
        return TENS_WORDS[n // 10] + ("" if n % 10 == 0 else " " + DIGIT_WORDS[n % 10])
    rest = n % 100
    return DIGIT_WORDS[n // 100] + " hundred" + ("" if not rest else " and " + _spoken_number(rest))


def say_email(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(NAMES).split()
    domain = rng.choice(["gmail", "yahoo", "outlook", "example"])
    tld = rng.choice(["com", "com", "net", "org"])
    user = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 99)}", first])
    value = f"{user}@{domain}.{tld}"
    if rng.random() < 0.5:
        return value, value
    return user.replace(".", " dot ") + f" at {domain} dot {tld}", value


def say_phone(rng: random.Random) -> tuple[str, str]:
    digits = "555" + "".join(str(rng.randint(0, 9)) for _ in range(7))
    style = rng.random()
    if style < 0.4:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}", digits
    if style < 0.6:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}", digits
    return " ".join(DIGIT_WORDS[int(d)] for d in digits), digits


def fill(template: str, rng: random.Random) -> tuple[str, list[dict]]:
    """Replace {slots} left to right, recording each value's span."""
    text, entities = "", []
    pos = 0
    used_products = set()
    for m in re.finditer(r"\{(\w+)\}", template):
        text += template[pos:m.start()]
        slot = m.group(1)
        if slot == "order":
            digits = rng.choice(ORDERS)
            words, kind, value = say_digits(digits, rng), "order_number", digits
        elif slot in ("product", "product2"):
            canon = rng.choice([p for p in PRODUCTS if p not in used_products])
            used_products.add(canon)
            words, kind, value = rng.choice(PRODUCTS[canon]), "product", canon
        elif slot == "amount":
            (words, value), kind = say_amount(rng), "amount"
        elif slot == "date":
            words = rng.choice(DATES)
            kind, value = "date", words
        elif slot == "email":
            (words, value), kind = say_email(rng), "email"
        elif slot == "phone":
            (words, value), kind = say_phone(rng), "phone_number"
        elif slot == "name":
            words = rng.choice(NAMES)
            kind, value = "person_name", words.title()
        else:
            raise ValueError(f"unknown slot {slot}")
        entities.append({"start": len(text), "end": len(text) + len(words), "type": kind, "value": value})
        text += words
        pos = m.end()
    return text + template[pos:], entities


def dress(text: str, entities: list[dict], sentiment: str, intent: str, rng: random.Random):
    """Fillers, sentiment tags, slips and casing, keeping the spans right."""
    def prepend(s):
        nonlocal text
        text = s + " " + text
        for e in entities:
            e["start"] += len(s) + 1
            e["end"] += len(s) + 1

    question = re.match(r"(\w+ )?(what|where|when|how|can|could|do|does|is|are|has|why|which|who)\b", text)
    if rng.random() < 0.3:
        plain = intent in ("greet", "affirm", "deny")  # "hello yes" would be two intents
        prepend(rng.choice(["um", "uh", "oh", "well", "yeah"] if plain else FILLERS))
    if intent not in ("greet", "goodbye", "thanks", "affirm", "deny") and rng.random() < 0.25:
        tag_sentiment = rng.choice(["negative", "positive"]) if sentiment == "neutral" else sentiment
        if tag_sentiment == "negative" and intent not in ("suggestion",):
            text += " " + rng.choice(NEGATIVE_TAGS)
            sentiment = "negative"
        elif tag_sentiment == "positive" and intent not in ("complaint", "billing_problem"):
            text += " " + rng.choice(POSITIVE_TAGS)
            sentiment = "positive"
    if rng.random() < 0.12:
        for right, wrong in MISHEARD:
            hit = re.search(rf"\b{right}\b", text)
            if hit and not any(e["start"] < hit.end() and hit.start() < e["end"] for e in entities):
                text = text[:hit.start()] + wrong + text[hit.end():]
                shift = len(wrong) - len(right)
                for e in entities:
                    if e["start"] >= hit.end():
                        e["start"] += shift
                        e["end"] += shift
                break
    style = rng.random()
    if style < 0.35:  # Whisper's own style: capital first letter and a full stop or question mark
        text = text[0].upper() + text[1:]
        text += "?" if question and not text.endswith(tuple(NEGATIVE_TAGS + POSITIVE_TAGS)) else "."
    elif style < 0.45:
        text = text.upper() if len(text) < 25 else text
    for e in entities:
        # upper-casing changes the surface but never the length: values stay as made
        assert len(text) >= e["end"]
    return text, entities, sentiment


def generate(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    train, test, seen = [], [], set()
    for intent, templates in T.items():
        for split, pool, n in (("train", templates[:-TEST_TEMPLATES], TRAIN_PER_INTENT),
                               ("test", templates[-TEST_TEMPLATES:], TEST_PER_INTENT)):
            out = train if split == "train" else test
            # templates with slots count three times: entities need examples too
            weighted = [t for t in pool for _ in range(3 if "{" in t[0] else 1)]
            made, tries = 0, 0
            while made < n and tries < n * 60:
                tries += 1
                template, sentiment = rng.choice(weighted)
                text, ents = fill(template, rng)
                text, ents, sent = dress(text, ents, sentiment, intent, rng)
                key = re.sub(r"[^a-z0-9 ]", "", text.lower())
                if key in seen:
                    continue
                seen.add(key)
                out.append({"text": text, "intent": intent, "sentiment": sent, "entities": ents})
                made += 1
    # callers' styles (nlu/data/styles.py), made from the training templates only
    train = [tag_services(ex) for ex in train]
    for ex in styled({i: t[:-TEST_TEMPLATES] for i, t in T.items()}, fill, seed + 1):
        key = re.sub(r"[^a-z0-9 ]", "", ex["text"].lower())
        if key not in seen:
            seen.add(key)
            train.append(tag_services(ex))
    return train, test


def write(examples: list[dict], path: Path) -> None:
    lines = [json.dumps(ex, ensure_ascii=False) for ex in examples]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(out_dir: Path = HERE) -> None:
    train, test = generate()
    write(train, Path(out_dir) / "train.jsonl")
    write(test, Path(out_dir) / "test.jsonl")
    print(f"wrote {len(train)} training and {len(test)} test utterances to {out_dir}")


if __name__ == "__main__":
    main()
