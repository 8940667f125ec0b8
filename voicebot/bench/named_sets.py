"""The named sets of whole test calls (`voicebot bench test-calls DIR --set NAME`): issue 28's
tuning set and the first fresh sets kept for confirming (the later ones: voicebot.bench.later_sets), each call a dict of
voicebot.bench.callers.TestCall's fields but its name."""
from __future__ import annotations


def call(voice: str, noise: str, level_dbfs: float, turns: list[tuple[str, str]], telephone: bool = False,
         gap_s: float = 1.5, speech_db: float = -3.0, rate_wpm: int | None = None) -> dict:
    """One call of a named set: TestCall's fields but its name."""
    return {"voice": voice, "noise": noise, "level_dbfs": level_dbfs, "turns": turns, "telephone": telephone,
            "gap_s": gap_s, "speech_db": speech_db, "rate_wpm": rate_wpm}


# Named sets of whole calls, each call a dict of TestCall's fields (voicebot.bench.callers makes
# them, `voicebot bench test-calls DIR --set NAME`). Gaps 0.5-2 s; every other call by phone.
# "issue": the tuning set of issue 28's bug report: the existing voices, faint white noise, a short
# turn right after a long one, order numbers said digit by digit.
ISSUE: list[dict] = [
    call(voice="flite:slt", noise="white", level_dbfs=-58, telephone=True, gap_s=1.35, turns=[
        ("I would like to return the headphones I bought.", "return_refund"),
        ("Do you accept PayPal?", "payment_methods")]),
    call(voice="espeak:en-us", noise="white", level_dbfs=-60, gap_s=0.8, turns=[
        ("Hi, I'm calling about an order.", "order_status"),
        ("The order number is five eight two one three.", "order_status"),
        ("Thanks.", "thanks")]),
    call(voice="flite:kal16", noise="white", level_dbfs=-55, telephone=True, gap_s=1.0, turns=[
        ("I'd like to cancel order four four one two zero.", "cancel_order"),
        ("Yes, please.", "affirm")]),
    call(voice="espeak:en-gb", noise="white", level_dbfs=-57, gap_s=1.8, turns=[
        ("I'm checking on a delivery that should have come this week.", "order_status"),
        ("nine zero zero one seven", ""),
        ("Okay, thank you.", "thanks")]),
    call(voice="flite:rms", noise="white", level_dbfs=-59, telephone=True, gap_s=0.6, turns=[
        ("My router keeps disconnecting.", "technical_support"),
        ("I've restarted it a few times but it still drops every couple of minutes.", "technical_support"),
        ("Can I talk to someone?", "human_agent")]),
    call(voice="espeak:en-gb-scotland", noise="white", level_dbfs=-56, gap_s=1.2, turns=[
        ("I ordered a coffee maker online and the website says it's ready for collection at your store.",
         "order_status"),
        ("Can I pick it up on Saturday?", "store_hours")]),
    call(voice="flite:awb", noise="white", level_dbfs=-60, telephone=True, gap_s=0.5, turns=[
        ("I was charged twice for my order and I've been waiting on hold for twenty minutes already.",
         "billing_problem"),
        ("Can you fix it?", "billing_problem")]),
    call(voice="flite:slt", noise="white", level_dbfs=-55, gap_s=1.5, speech_db=-9.0, turns=[
        ("What are your opening hours on Sunday?", "store_hours"),
        ("Do you take Apple Pay?", "payment_methods"),
        ("Thanks, bye.", "goodbye")]),
    call(voice="espeak:en-us", noise="white", level_dbfs=-57, telephone=True, gap_s=0.7, turns=[
        ("My order number is four four one two zero, and it still hasn't arrived after two weeks.",
         "order_status"),
        ("Where is it?", "order_status")]),
    call(voice="flite:kal16", noise="white", level_dbfs=-58, gap_s=2.0, turns=[
        ("I want to return the air fryer because it's too big for my kitchen.", "return_refund"),
        ("When do I get my money back?", "return_refund")]),
    call(voice="espeak:en-gb", noise="white", level_dbfs=-56, telephone=True, gap_s=1.0, speech_db=-9.0, turns=[
        ("Please call me back on five five five, three four one, two two nine zero.", ""),
        ("Thank you, goodbye.", "goodbye")]),
    call(voice="flite:rms", noise="white", level_dbfs=-59, gap_s=1.6, turns=[
        ("My vacuum cleaner makes a loud rattling noise as soon as I switch it on.", "technical_support"),
        ("Should I send it back?", "return_refund")]),
]
# "fresh-a" and "fresh-b": never used while tuning, to confirm what was tuned on the sets above.
# New sentences and numbers, voices and noises none of the sets above use: fresh-a Festival's
# voices under brown and pink noise, babble at new levels and crowd; fresh-b espeak-ng's other
# English voices (some slower or faster) under pink, brown noise and hum at other levels.
FRESH_A: list[dict] = [
    call(voice="festival:slt_hts", noise="brown", level_dbfs=-45, gap_s=0.8, turns=[
        ("Hi, I bought a vacuum cleaner from you last month and the battery stopped charging after a week.",
         "technical_support"),
        ("Can I get a replacement?", "return_refund"),
        ("Thanks for sorting that out.", "thanks")]),
    call(voice="festival:kal", noise="pink", level_dbfs=-40, telephone=True, gap_s=1.6, turns=[
        ("Hello, I'm ringing to find out where my parcel is.", "order_status"),
        ("The order number is three six zero four one.", "order_status"),
        ("Brilliant, cheers.", "thanks")]),
    call(voice="festival:ked", noise="babble", level_dbfs=-34, gap_s=0.5, turns=[
        ("I looked at my bank statement this morning and I've been charged twice for the smart watch.",
         "billing_problem"),
        ("Can you refund one of them?", "billing_problem"),
        ("Okay, bye.", "goodbye")]),
    call(voice="festival:slt_hts", noise="pink", level_dbfs=-45, telephone=True, gap_s=1.2, turns=[
        ("Are your shops open late on Thursday evenings?", "store_hours"),
        ("And what about Saturday?", "store_hours"),
        ("Lovely, thank you.", "thanks")]),
    call(voice="festival:kal", noise="brown", level_dbfs=-40, gap_s=1.9, rate_wpm=135, turns=[
        (("I ordered a router on Monday and it was supposed to arrive yesterday, but I still haven't "
         "received anything."), "order_status"),
        ("Where is it now?", "order_status"),
        ("My number is zero seven seven zero, nine one two, four four eight.", "")]),
    call(voice="festival:ked", noise="crowd", level_dbfs=-36, telephone=True, gap_s=0.7, turns=[
        ("I want to send back the air fryer because the basket doesn't fit properly.", "return_refund"),
        ("How long does the refund take?", "return_refund"),
        ("No, that's all.", "deny")]),
    call(voice="festival:slt_hts", noise="brown", level_dbfs=-50, gap_s=1.4, speech_db=-12.0, turns=[
        (("Hi, I'd like to cancel the order I placed this morning, I found the same kettle cheaper "
         "somewhere else."), "cancel_order"),
        ("It's order two seven five five one.", "cancel_order"),
        ("Yes, go ahead.", "affirm")]),
    call(voice="festival:kal", noise="babble", level_dbfs=-41, telephone=True, gap_s=1.0, turns=[
        ("How much is the tablet with the pen?", "pricing"),
        ("Is the delivery free?", "pricing"),
        ("Can I pay for it with PayPal?", "payment_methods")]),
    call(voice="festival:ked", noise="pink", level_dbfs=-42, gap_s=1.7, rate_wpm=190, turns=[
        ("My smart watch stopped syncing with my phone after the last update.", "technical_support"),
        ("I've already turned it off and on again.", "technical_support"),
        ("Put me through to someone, please.", "human_agent")]),
    call(voice="festival:slt_hts", noise="brown", level_dbfs=-38, telephone=True, gap_s=0.9, turns=[
        (("I changed banks recently so I need to update the card details on my account before my next "
         "order goes through."), "update_account"),
        ("Do you take gift cards?", "payment_methods"),
        ("Perfect, goodbye.", "goodbye")]),
    call(voice="festival:kal", noise="pink", level_dbfs=-47, gap_s=1.3, turns=[
        (("Good afternoon, I'm really unhappy, the coffee maker arrived with a cracked lid and the box "
         "was soaking wet."), "complaint"),
        ("The order number was eight one nine four.", ""),
        ("I want a refund.", "return_refund"),
        ("Thanks very much.", "thanks")]),
    call(voice="festival:ked", noise="brown", level_dbfs=-44, telephone=True, gap_s=1.1, speech_db=-9.0, turns=[
        ("I can't get into my account, it says my password is wrong.", "password_reset"),
        ("Can you send the reset link again?", "password_reset"),
        ("Got it, thanks.", "thanks")]),
    call(voice="festival:slt_hts", noise="crowd", level_dbfs=-37, telephone=True, gap_s=0.6, turns=[
        ("You should really let people track their deliveries by text message.", "suggestion"),
        ("I'd also like to cancel my Brightline Premium membership.", "cancel_subscription"),
        ("That's it, bye bye.", "goodbye")]),
]
FRESH_B: list[dict] = [
    call(voice="espeak:en-gb-x-rp", noise="pink", level_dbfs=-50, gap_s=1.0, turns=[
        ("Hello, I'd like to know whether the smart speaker works with my television.", "product_features"),
        ("And how much is it?", "pricing"),
        ("Right, thanks, bye.", "goodbye")]),
    call(voice="espeak:en-gb-x-gbclan", noise="hum", level_dbfs=-44, telephone=True, gap_s=1.8, rate_wpm=135, turns=[
        ("I placed an order for a laptop over a week ago and the website still says it's being processed.",
         "order_status"),
        ("Order number six one four eight two.", "order_status"),
        ("Okay, cheers.", "thanks")]),
    call(voice="espeak:en-gb-x-gbcwmd", noise="brown", level_dbfs=-36, gap_s=0.5, turns=[
        ("I'm calling because you've taken the money for my bluetooth speaker twice from my credit card.",
         "billing_problem"),
        ("Can you check?", "billing_problem"),
        ("Thanks, goodbye.", "goodbye")]),
    call(voice="espeak:en-029", noise="pink", level_dbfs=-38, telephone=True, gap_s=1.4, turns=[
        ("Can I pay with Apple Pay on the phone?", "payment_methods"),
        ("What about a Brightline gift card?", "payment_methods"),
        ("No, that's fine.", "deny")]),
    call(voice="espeak:en-gb-x-rp", noise="hum", level_dbfs=-38, gap_s=1.2, rate_wpm=190, turns=[
        ("The electric kettle I got for my mum stopped working after two days and I'd like to send it back.",
         "return_refund"),
        ("Is the return free?", "return_refund"),
        ("Great, thanks.", "thanks")]),
    call(voice="espeak:en-gb-x-gbclan", noise="brown", level_dbfs=-47, telephone=True, gap_s=0.7, turns=[
        ("I need to cancel order five three nine zero.", "cancel_order"),
        ("Yes, definitely.", "affirm"),
        ("Bye.", "goodbye")]),
    call(voice="espeak:en-gb-x-gbcwmd", noise="pink", level_dbfs=-44, gap_s=1.6, speech_db=-12.0, turns=[
        ("Are you open on Saturday afternoon?", "store_hours"),
        ("What time do you close on Sunday?", "store_hours"),
        ("Thanks, you have been very helpful.", "thanks")]),
    call(voice="espeak:en-029", noise="hum", level_dbfs=-47, telephone=True, gap_s=2.0, turns=[
        ("My tablet won't turn on even though it's been charging all night.", "technical_support"),
        ("I tried a different charger as well.", "technical_support"),
        ("Can I speak to a technician?", "human_agent")]),
    call(voice="espeak:en-gb-x-rp", noise="brown", level_dbfs=-42, gap_s=0.9, turns=[
        (("Hi, I moved house last week so I need to change my delivery address and my phone number on "
         "the account."), "update_account"),
        ("The new number is zero one six one, four nine six, three two seven eight.", ""),
        ("Thanks, that's everything.", "thanks")]),
    call(voice="espeak:en-gb-x-gbclan", noise="pink", level_dbfs=-35, telephone=True, gap_s=1.1, turns=[
        ("Your delivery drivers never ring the bell, they just leave a card and go away.", "complaint"),
        ("It's happened three times now.", "complaint"),
        ("I'd like to speak to a supervisor.", "human_agent")]),
    call(voice="espeak:en-gb-x-gbcwmd", noise="hum", level_dbfs=-41, gap_s=1.5, rate_wpm=135, turns=[
        ("Does the vacuum cleaner come with a spare filter?", "product_features"),
        ("How long does the battery last?", "product_features"),
        ("Okay, thank you very much.", "thanks")]),
    call(voice="espeak:en-029", noise="brown", level_dbfs=-39, telephone=True, gap_s=0.6, rate_wpm=185, turns=[
        (("I've been charged twice for my Brightline Premium subscription this month and I want one of "
         "the payments back."), "billing_problem"),
        ("Please sort it out.", "billing_problem"),
        ("And cancel the subscription too.", "cancel_subscription")]),
    call(voice="espeak:en-gb-x-rp", noise="pink", level_dbfs=-46, telephone=True, gap_s=1.3, speech_db=-9.0, turns=[
        ("Hello, can you tell me what's happening with order seven two two six nine?", "order_status"),
        ("It was a present for my daughter's birthday on Friday.", ""),
        ("Wonderful, goodbye.", "goodbye")]),
]
# "fresh-c": a third confirmation set, untouched while tuning: espeak-ng's voice variants (+f3, +m7,
# +klatt2 on the American voice, +f4, +m3 on "en": en-gb ignores a variant in espeak-ng 1.51) and
# flite's 8 kHz kal diphone voice, under noises at levels the fresh sets above do not use.
FRESH_C: list[dict] = [
    call(voice="espeak:en-us+f3", noise="white", level_dbfs=-48, gap_s=1.0, turns=[
        ("Hi, I'm phoning about the wireless earbuds I ordered, they were meant to be here by Tuesday.",
         "order_status"),
        ("It's order two four six one.", "order_status"),
        ("Thanks, you've been a star.", "thanks")]),
    call(voice="flite:kal", noise="pink", level_dbfs=-39, telephone=True, gap_s=1.7, turns=[
        ("Do you do the air fryer in black, and does it have a timer?", "product_features"),
        ("What's the price of it at the moment?", "pricing"),
        ("Could I pay for it by Apple Pay?", "payment_methods")]),
    call(voice="espeak:en+f4", noise="brown", level_dbfs=-43, telephone=True, gap_s=0.6, speech_db=-12.0, turns=[
        (("I ordered a phone charger last Friday, it came with the wrong plug, and honestly the whole thing "
          "has been a real hassle from start to finish."), "complaint"),
        ("Just refund me, please.", "return_refund")]),
    call(voice="espeak:en-us+m7", noise="crowd", level_dbfs=-33, gap_s=1.3, turns=[
        ("Hiya, I'd like to cancel order eight five zero three six, please.", "cancel_order"),
        ("Yep, I'm sure about that.", "affirm"),
        ("Lovely, bye for now.", "goodbye")]),
    call(voice="espeak:en-us+klatt2", noise="hum", level_dbfs=-49, telephone=True, gap_s=1.9, turns=[
        ("What time do you open on Wednesday morning?", "store_hours"),
        ("And are you open on bank holiday Monday?", "store_hours"),
        ("Okay, thanks for that.", "thanks")]),
    call(voice="espeak:en+m3", noise="white", level_dbfs=-52, gap_s=0.8, rate_wpm=140, turns=[
        (("I've been trying to log into my account all morning and it keeps telling me my password is "
          "incorrect."), "password_reset"),
        ("Can you send me a link to reset my password?", "password_reset"),
        ("Nope, I'm all set.", "deny")]),
    call(voice="espeak:en-us+f3", noise="pink", level_dbfs=-53, telephone=True, gap_s=1.5, speech_db=-9.0, turns=[
        ("The smart speaker I got for Christmas won't connect to the wifi at all.", "technical_support"),
        ("I've reset it twice already.", "technical_support"),
        ("Could you put me through to a person?", "human_agent")]),
    call(voice="flite:kal", noise="brown", level_dbfs=-49, gap_s=0.5, turns=[
        (("Hello, I was charged for Brightline Premium even though I cancelled it in March, and now there's "
          "another payment on my card this month."), "billing_problem"),
        ("That's ridiculous.", "complaint"),
        ("I'd like to stop the subscription for good.", "cancel_subscription")]),
    call(voice="espeak:en+f4", noise="hum", level_dbfs=-52, gap_s=1.2, turns=[
        ("My order number is three nine one seven.", "order_status"),
        ("Has it been sent out yet?", "order_status"),
        ("You can ring me on zero two zero, seven four six, one three five eight.", ""),
        ("Great stuff, goodbye.", "goodbye")]),
    call(voice="espeak:en-us+m7", noise="white", level_dbfs=-43, telephone=True, gap_s=1.6, rate_wpm=185, turns=[
        ("I need to change the email address on my account, I don't use the old one any more.", "update_account"),
        ("Can I use a gift card and PayPal together on one order?", "payment_methods"),
        ("No thanks, that's it.", "deny")]),
    call(voice="espeak:en-us+klatt2", noise="crowd", level_dbfs=-39, gap_s=1.1, turns=[
        ("It would be great if your app let me save my favourite products.", "suggestion"),
        ("Is the laptop any good for gaming?", "product_features"),
        ("Right then, goodbye.", "goodbye")]),
    call(voice="espeak:en+m3", noise="pink", level_dbfs=-36, telephone=True, gap_s=0.7, rate_wpm=135, turns=[
        ("I sent the coffee maker back two weeks ago and I still haven't seen the refund on my card.",
         "return_refund"),
        ("When will the money be back in my account?", "return_refund"),
        ("Thanks for checking.", "thanks")]),
]

# "fresh-d": a fourth confirmation set, written after the follow-up rule and the added NLU
# templates (issue 28, second pass) and scored once: espeak-ng variants none of the sets above
# use (+f1, +m2, +klatt4 on en-us; +f2, +m1, +f5 on en), noise levels between theirs.
FRESH_D: list[dict] = [
    call(voice="espeak:en-us+f1", noise="pink", level_dbfs=-41, gap_s=1.1, turns=[
        ("Morning, I ordered a blender nine days ago and there's still no sign of it.", "order_status"),
        ("The order number is six zero seven one four.", "order_status"),
        ("Brilliant, cheers for that.", "thanks")]),
    call(voice="espeak:en+m1", noise="hum", level_dbfs=-46, telephone=True, gap_s=1.4, turns=[
        ("There's a payment of forty nine dollars on my statement that I never made.", "billing_problem"),
        ("Could you look into it for me?", "billing_problem"),
        ("Okay then, goodbye.", "goodbye")]),
    call(voice="espeak:en-us+m2", noise="brown", level_dbfs=-39, gap_s=0.7, turns=[
        ("Can I pay for it with a gift card?", "payment_methods"),
        ("What about American Express?", "payment_methods"),
        ("Thank you very much.", "thanks")]),
    call(voice="espeak:en+f2", noise="white", level_dbfs=-47, telephone=True, gap_s=1.8, turns=[
        ("My headphones keep cutting out every few minutes when I'm on a call.", "technical_support"),
        ("I've charged them fully and it still happens.", "technical_support"),
        ("Can I speak to someone in person about it?", "human_agent")]),
    call(voice="espeak:en-us+klatt4", noise="crowd", level_dbfs=-35, gap_s=1.0, turns=[
        ("I'd like to cancel order one three five seven, please.", "cancel_order"),
        ("Yes please, go ahead.", "affirm"),
        ("That's everything, bye.", "goodbye")]),
    call(voice="espeak:en+f5", noise="babble", level_dbfs=-37, telephone=True, gap_s=0.6, turns=[
        ("How much is the smart watch at the moment?", "pricing"),
        ("And does it track your sleep?", "product_features"),
        ("Great, thanks ever so much.", "thanks")]),
    call(voice="espeak:en-us+f1", noise="hum", level_dbfs=-51, gap_s=1.6, rate_wpm=145, turns=[
        ("I'm really fed up, this is the third time my delivery has been left at the wrong house.", "complaint"),
        ("What are you going to do about it?", "complaint"),
        ("Fine, bye.", "goodbye")]),
    call(voice="espeak:en+m1", noise="pink", level_dbfs=-49, telephone=True, gap_s=1.2, turns=[
        ("What time do you close on Saturdays?", "store_hours"),
        ("Is there somewhere to park near the shop?", ""),
        ("Okay, thanks, bye.", "goodbye")]),
    call(voice="espeak:en-us+m2", noise="white", level_dbfs=-44, telephone=True, gap_s=0.9, rate_wpm=180, turns=[
        ("I want to send the vacuum cleaner back, it's far too heavy for me.", "return_refund"),
        ("How long will the refund take?", "return_refund"),
        ("No, that's all for today.", "deny")]),
    call(voice="espeak:en+f2", noise="brown", level_dbfs=-45, gap_s=1.3, turns=[
        ("I can't get into my account, it says my password has expired.", "password_reset"),
        ("Can you sort that out?", "password_reset"),
        ("Thanks, that's great.", "thanks")]),
    call(voice="espeak:en-us+klatt4", noise="babble", level_dbfs=-40, telephone=True, gap_s=1.7, turns=[
        ("Please cancel my premium membership, I'm not using it.", "cancel_subscription"),
        ("Will I still be charged this month?", ""),
        ("Right, goodbye then.", "goodbye")]),
    call(voice="espeak:en+f5", noise="crowd", level_dbfs=-42, gap_s=0.8, turns=[
        ("I've moved house, so I need to update my delivery address.", "update_account"),
        ("Hello? Are you still there?", ""),
        ("Where is my order four four one zero?", "order_status")]),
]

# by the name `--set` takes (fresh-e to -g: voicebot.bench.later_sets)
NAMED = {"issue": ISSUE, "fresh-a": FRESH_A, "fresh-b": FRESH_B, "fresh-c": FRESH_C, "fresh-d": FRESH_D}
