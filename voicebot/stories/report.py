"""What a story run says: a table of stories and steps, JSON, and JUnit XML for CI systems."""
from __future__ import annotations

import json
import sys
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table

from asr.files import atomic_write_text


def mark_misheard(results: list[dict]) -> None:
    """A step that failed by voice but passed by text was misheard: the words heard say why."""
    by_text = {(r["story"], i): s for r in results if r["by"] == "text" for i, s in enumerate(r["steps"])}
    for r in results:
        if r["by"] != "voice":
            continue
        for i, s in enumerate(r["steps"]):
            typed = by_text.get((r["story"], i))
            if (not s["passed"] and not s.get("misheard") and typed is not None and typed["passed"]
                    and not typed["skipped"]):
                s["misheard"] = True
                words = repr(s["heard"]) if s["heard"] else "nothing"
                s["problems"].append(f"misheard: passes by text; the bot heard {words}")


def got(step: dict) -> str:
    if step["heard"] is None:
        return "(nothing heard)"
    if step["skipped"]:
        return "(by voice only)"
    bits = [f"heard {step['heard']!r}"] if step.get("heard") and step["heard"] != step["caller"] else []
    if step["intent"]:
        bits.append(step["intent"])
    bits += step["entities"]
    if step["faq"]:
        bits.append(f"FAQ {step['faq']}")
    elif step["answer"] and step["answer"] != "intent":
        bits.append(step["answer"])
    bits.append(f"bot: {step['reply']!r}" if step["reply"] else "bot: (silent)")
    return ", ".join(bits)


def print_table(results: list[dict], console: Console | None = None, failed_only: bool = False) -> None:
    # piped (CI logs, files): wide enough that a reply is not folded into a column of syllables
    console = console or Console(width=None if sys.stdout.isatty() else 220)
    table = Table(title="voicebot test: stories", show_lines=False)
    for col in ("story", "by", "step", "caller", "expected", "what came", "result"):
        table.add_column(col, overflow="fold")
    for r in results:
        by = r["by"] + (f" ({r['voice']})" if r.get("voice") else "")
        for i, s in enumerate(r["steps"]):
            if failed_only and s["passed"]:
                continue
            result = "[green]pass[/]" if s["passed"] else "[red]FAIL[/] " + "; ".join(s["problems"])
            if s["skipped"]:
                result = "[dim]-[/]"
            table.add_row(r["story"] if i == 0 or failed_only else "", by if i == 0 or failed_only else "",
                          str(i + 1), s["caller"], s["expected"], got(s), result)
    console.print(table)
    for r in results:
        if r.get("extra_turns"):
            console.print(f"[yellow]{r['story']} (voice): turns heard that no line made: {r['extra_turns']}[/]")
    console.print(summary_line(results))


def summary_line(results: list[dict]) -> str:
    parts = []
    for by in ("text", "voice"):
        rs = [r for r in results if r["by"] == by]
        if rs:
            steps = [s for r in rs for s in r["steps"] if not s["skipped"]]
            seconds = sum(r["seconds"] for r in rs)
            parts.append(f"by {by}: {sum(r['passed'] for r in rs)}/{len(rs)} stories passed, "
                         f"{sum(s['passed'] for s in steps)}/{len(steps)} steps, {seconds:.0f} s of work")
    misheard = sum(s.get("misheard", False) for r in results for s in r["steps"])
    return "; ".join(parts) + (f"; {misheard} step(s) misheard" if misheard else "")


def write_json(results: list[dict], path: str) -> None:
    atomic_write_text(path, json.dumps({"results": results, "summary": summary_line(results)}, indent=2,
                                       ensure_ascii=False) + "\n")


def junit_xml(results: list[dict]) -> str:
    """One testsuite per way of running (text, voice), one testcase per story."""
    root = ET.Element("testsuites", name="voicebot test")
    for by in ("text", "voice"):
        rs = [r for r in results if r["by"] == by]
        if not rs:
            continue
        suite = ET.SubElement(root, "testsuite", name=f"stories by {by}", tests=str(len(rs)),
                              failures=str(sum(not r["passed"] for r in rs)), errors="0",
                              time=f"{sum(r['seconds'] for r in rs):.2f}")
        for r in rs:
            case = ET.SubElement(suite, "testcase", classname=f"stories.{by}", name=r["story"],
                                 time=f"{r['seconds']:.2f}", file=r.get("source", ""))
            bad = [(i, s) for i, s in enumerate(r["steps"]) if not s["passed"]]
            if bad:
                first = bad[0]
                fail = ET.SubElement(case, "failure", message=f"step {first[0] + 1}: {'; '.join(first[1]['problems'])}")
                fail.text = "\n".join(f"step {i + 1}: caller {s['caller']!r}; expected {s['expected']}; "
                                      f"came {got(s)}; {'; '.join(s['problems'])}" for i, s in bad)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(results: list[dict], path: str) -> None:
    atomic_write_text(path, junit_xml(results))
