

@pytest.mark.parametrize("text, confidence, wait", [
    ("What time do your stores open on Sunday?", 0.99, "complete_ms"),
    ("No, leave it as it is.", 0.99, "complete_ms"),
    ("Yes.", 0.99, "short_answer_ms"),
    ("My order number is", 0.99, "incomplete_ms"),
    ("I want to check on um", 0.99, "incomplete_ms"),
    ("I'd like to,", 0.99, "incomplete_ms"),
    ("Blade, blade", 0.30, "silence_ms"),
])
def test_the_words_choose_the_silence_that_ends_a_turn(text, confidence, wait):
    from voicebot.config import LiveConfig
    from voicebot.events import NLUResult
    from voicebot.turns import end_wait_s
    cfg = LiveConfig()
    assert end_wait_s(NLUResult(text, "store_hours", confidence, "neutral"), cfg) == getattr(cfg, wait) / 1000


@pytest.mark.parametrize("text, short, cut_in", [
    ("Uh-huh.", True, False), ("Okay.", True, False), ("Right, right.", True, False), ("Mm-hmm", True, False),
    ("", False, False), ("A-A-A", True, False),
    ("Wait.", True, True), ("Loki", True, False), ("Loki", False, True),
    ("Do you accept PayPal?", True, True),
    ("and Sunday from 10 am", False, False),  # the bot's own reply coming back
])
def test_which_words_cut_the_bot_off(text, short, cut_in):
    from voicebot.events import BotReply
    from voicebot.turns import interrupts
    reply = BotReply("Our stores are open Monday to Saturday from 9 am to 8 pm, and Sunday from 10 am to 6 pm.")
    assert interrupts(text, reply, short=short) == cut_in
