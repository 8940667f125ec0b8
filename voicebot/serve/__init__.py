"""`voicebot serve`: the web app (app.py) with its page (web/), API keys and log-in (access.py),
the phone line's media-stream route and, with `--sip`, the SIP agent beside it."""
from voicebot.serve.app import make_app, run

__all__ = ["make_app", "run"]
