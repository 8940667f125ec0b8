"""Call archives: recorded agent/customer calls analysed in bulk (`voicebot analyze`): each
speaker transcribed, each call's reason, products, orders, sentiment and talk time (analysis.py),
on one machine or on Ray (on_ray.py), into JSON, a database (db.py) and an HTML report (report.py)."""
from voicebot.archive.analysis import Analyzer, analyze_one

__all__ = ["Analyzer", "analyze_one"]
