"""The console view of a live call: turns, intents, sentiment and each turn's latency (rich).

On a terminal the table redraws in place; in a pipe or a log each event is one plain line.
"""
from __future__ import annotations

import contextlib

from asr.events import Transcript
from nlu.events import BotReply, Interrupted, NLUResult
from tts.events import AudioChunk

STAGES = ("endpoint", "asr", "nlu", "dialogue", "tts_first_audio")


def turn_ms(turn: dict) -> float | None:
    """The session's own view of a turn's voice-to-voice time: the stages added up."""
    parts = [turn["latency_ms"].get(k) for k in STAGES]
    return None if any(p is None for p in parts) else round(sum(parts))


def turns_table(turns: list[dict], title: str = "live call"):
    from rich.table import Table  # rich costs ~20 ms at start-up: only a call on a terminal needs it
    table = Table(title=title)
    for col in ("#", "caller", "intent", "sentiment", "bot", "ms", "cut"):
        table.add_column(col, overflow="fold", justify="right" if col in ("#", "ms") else "left")
    for i, t in enumerate(turns, 1):
        cut = t.get("reply_cut")
        table.add_row(str(i), t["text"], f"{t['intent']} {t['confidence']:.2f}", t["sentiment"],
                      t["reply"][:70] + ("..." if len(t["reply"]) > 70 else ""), str(turn_ms(t) or ""),
                      f"after {cut['heard_s']:.1f} s" if cut else "")
    return table


class TalkView:
    def __init__(self, console=None):
        if console is None:
            from rich.console import Console
            console = Console()
        self.console = console
        self.session = None
        self.status = "listening"
        self._live = None

    def on_event(self, ev) -> None:
        if isinstance(ev, AudioChunk):
            if ev.index == 0:
                self.status = "bot speaking"
            return
        if isinstance(ev, Interrupted):
            self.status = f"interrupted after {ev.heard_s:.1f} s; listening"
        elif isinstance(ev, BotReply) and not ev.text:
            self.status = "listening"
        if self._live is not None:
            self._live.update(self._render())
        elif isinstance(ev, Transcript):
            self.console.print(f"caller: {ev.text}", highlight=False)
        elif isinstance(ev, NLUResult):
            self.console.print(f"  [{ev.intent} {ev.confidence:.2f}, {ev.sentiment}]", highlight=False, markup=False)
        elif isinstance(ev, BotReply):
            self.console.print(f"bot: {ev.text}", highlight=False)
        elif isinstance(ev, Interrupted):
            self.console.print(f"(caller barged in after {ev.heard_s:.1f} s of the reply)", highlight=False)

    def _render(self):
        turns = self.session.turns if self.session is not None else []
        return turns_table(turns, f"voicebot talk: {self.status} (Ctrl-C hangs up)")

    @contextlib.contextmanager
    def live(self, session=None):
        self.session = session
        if not self.console.is_terminal:
            yield
            return
        from rich.live import Live
        with Live(self._render(), console=self.console, refresh_per_second=4) as live:
            self._live = live
            try:
                yield
            finally:
                self._live = None

    def print_summary(self, session) -> None:
        ms = sorted(m for m in (turn_ms(t) for t in session.turns) if m is not None)
        if self._live is None and not self.console.is_terminal:
            self.console.print(turns_table(session.turns))
        if ms:
            self.console.print(f"{len(ms)} turn(s); stages added up, median {ms[len(ms) // 2]:.0f} ms "
                               f"(voice end to first reply audio, transport not included)", highlight=False)
