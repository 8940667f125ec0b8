"""Conversation tests a company writes itself: story files of scripted calls (YAML), run by
text straight into the dialogue or by voice through a live session on the simulated line, each
caller line judged on what the bot did (`voicebot test`).

    stories = load_stories(["stories/"])
    results = run_stories(bot, stories, by="both")   # a dict per story and way, steps inside
"""
from voicebot.stories.run import run_stories
from voicebot.stories.story import Step, Story, StoryError, load_stories

__all__ = ["Step", "Story", "StoryError", "load_stories", "run_stories"]
