"""A story by text: each caller line goes straight into the NLU and the dialogue, as typed.

The fastest check of a domain file: no recognizer, so a step that fails here is the
understanding's or the dialogue's fault, never the ear's.
"""
from __future__ import annotations

import time

from nlu.dialogue import bare_number
from nlu.events import BotReply, Interrupted
from nlu.orders import OrderStore
from voicebot.live.session import CHARS_PER_S
from voicebot.stories.story import Outcome, Story, judge


def story_policy(bot, story: Story):
    """The bot's dialogue over a fresh in-memory order database: the domain's sample orders
    and the story's own rows (a story's cancellation never leaks into the next story)."""
    store = OrderStore("sqlite://")
    rows = {str(o["number"]): o for o in bot.domain.orders}
    rows.update({o["number"]: o for o in story.orders})
    store.seed(list(rows.values()))
    return bot.policy.with_store(store)


def outcome(reply: BotReply, domain, cut: bool = False) -> Outcome:
    """What the bot did with a line, from its reply (the turn it answers inside)."""
    nlu = reply.turn
    intent = reply.taken_as or nlu.intent
    entities = [(e.type, e.value) for e in nlu.entities]
    number = bare_number(nlu.text)
    if number and intent in domain.slots and ("order_number", number) not in entities:
        entities.append(("order_number", number))  # the slot the conversation filled with it
    faq = (reply.faq or {}).get("id") if reply.answer_source == "faq" else None
    return Outcome(heard=nlu.text, intent=intent, entities=entities, answer=reply.answer_source, faq=faq,
                   reply=reply.text, handover=reply.handover, hangs_up=reply.end_call, cut=cut)


def ended(reply: BotReply | None) -> str:
    if reply is None:
        return ""
    return "handed over" if reply.handover else "hung up" if reply.end_call else ""


def run_by_text(bot, story: Story) -> dict:
    t0 = time.perf_counter()
    conversation = story_policy(bot, story).new_conversation()
    last = conversation.greeting()
    steps, over = [], ""
    for i, step in enumerate(story.steps):
        if step.silence:  # nothing typed, nothing to answer: judged by voice only
            steps.append(step_result(step, Outcome(heard=""), [], skipped=True))
            continue
        if over:
            steps.append(step_result(step, Outcome(heard=None), [f"the call had ended ({over})"]))
            continue
        cut = step.barge_in is not None and last is not None
        if cut:  # the caller cut the last reply short after `barge_in` seconds of it
            heard = int(step.barge_in * CHARS_PER_S)
            words = last.text[:heard].rsplit(" ", 1)[0] if heard < len(last.text) else last.text
            conversation.reply_cut(Interrupted(0.0, last, step.barge_in, words))
        last = conversation.respond(bot.nlu.parse(step.caller))
        got = outcome(last, bot.domain, cut)
        steps.append(step_result(step, got, judge(step, got)))
        over = ended(last)
    return {"story": story.name, "by": "text", "voice": None, "source": story.source,
            "passed": all(s["passed"] for s in steps), "seconds": round(time.perf_counter() - t0, 2),
            "steps": steps}


def expected(step) -> str:
    """The step's checks, as a reader would say them."""
    if step.silence:
        return f"{step.silence:g} s of silence: no turn, no reply"
    parts = []
    if step.intent:
        parts.append(f"intent {step.intent}")
    parts += [f"{t}={v}" for t, v in step.entities]
    if step.faq:
        parts.append(f"FAQ {step.faq}")
    elif step.answer:
        parts.append(f"from {step.answer}")
    parts += [f"says {w!r}" for w in step.says]
    parts += [f"never {w!r}" for w in step.never_says]
    if step.handover is not None:
        parts.append("hands over" if step.handover else "keeps the call")
    if step.hangs_up is not None:
        parts.append("hangs up" if step.hangs_up else "stays on")
    if step.barge_in is not None:
        parts.append("stops for the caller")
    return ", ".join(parts) or "a reply"


def step_result(step, got: Outcome, problems: list[str], skipped: bool = False) -> dict:
    return {"caller": step.caller or f"({step.silence:g} s silence)", "expected": expected(step),
            "heard": got.heard, "intent": got.intent, "entities": [f"{t}={v}" for t, v in got.entities],
            "answer": got.answer, "faq": got.faq, "reply": got.reply, "handover": got.handover,
            "hangs_up": got.hangs_up, "problems": problems, "passed": not problems, "skipped": skipped}
