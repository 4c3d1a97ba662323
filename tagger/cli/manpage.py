"""The manual page, generated from the argument parser (roff, ``man 1 tagger``).

Every command and option comes from :func:`tagger.cli.main.build_parser`, so
the page cannot fall behind the CLI; the exit codes come from
:mod:`tagger.exitcodes`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import date

from tagger import __version__, exitcodes
from tagger.cli.manfields import field_section


def _roff(text: str) -> str:
    """Escape ``text`` for roff: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                out.append((name, helps.get(name, ""), sub))
    return out


def _options(parser: argparse.ArgumentParser) -> Iterable[str]:
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        if action.option_strings:
            names = ", ".join(f"\\fB{_roff(o)}\\fR" for o in action.option_strings)
        else:
            names = f"\\fI{_roff(str(action.metavar or action.dest))}\\fR"
        if action.option_strings and action.nargs != 0:
            metavar = action.metavar or action.dest.upper()
            names += f" \\fI{_roff(str(metavar))}\\fR"
        yield ".TP\n" + names + "\n" + _roff((action.help or "").replace("%(default)s", "").strip())


def render(parser: argparse.ArgumentParser, today: date | None = None) -> str:
    """Return the manual page of ``parser`` (section 1) as roff text."""
    day = (today or date.today()).isoformat()
    lines = [
        f'.TH TAGGER 1 "{day}" "tagger {__version__}" "User Commands"',
        ".SH NAME",
        "tagger \\- " + _roff(parser.description or "").rstrip("."),
        ".SH SYNOPSIS",
        "\\fBtagger\\fR [\\fB\\-c\\fR \\fIFILE\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        "Rules written in YAML select mail with Mimecast message\\-finder searches, test",
        "each message, and apply Smart Tags exactly once per message and tag, recording",
        "what was done in a local SQLite state file. The configuration is read from",
        "\\fB\\-c\\fR \\fIFILE\\fR, else \\fB$TAGGER_CONFIG\\fR, else /etc/tagger/config.yaml.",
        ".SH COMMANDS",
    ]
    for name, summary, sub in _subcommands(parser):
        usage = " ".join(sub.format_usage().split())
        usage = usage.removeprefix("usage: ")
        lines += [f".SS {_roff(name)}", _roff(summary), ".PP", f"\\fB{_roff(usage)}\\fR"]
        lines += list(_options(sub))
    lines += field_section(_roff)
    lines += [
        ".SH EXIT STATUS",
        "Every command gives each code the same meaning.",
    ]
    for code, meaning in exitcodes.MEANINGS.items():
        text = meaning.replace("`", "")
        lines += [".TP", f"{code}\n" + _roff(text[:1].upper() + text[1:]) + "."]
    lines += [
        ".PP",
        "\\fBtagger status \\-\\-check\\fR exits with the Nagios plugin codes instead:",
        f"{exitcodes.NAGIOS_OK} OK, {exitcodes.NAGIOS_WARNING} WARNING, "
        f"{exitcodes.NAGIOS_CRITICAL} CRITICAL, {exitcodes.NAGIOS_UNKNOWN} UNKNOWN.",
        ".SH FILES",
        ".TP",
        "/etc/tagger/config.yaml\nThe configuration (no secret in it: see credentials/).",
        ".TP",
        "/etc/tagger/credentials/\nSecrets, root's only; the unit loads them with",
        "LoadCredential=, commands run by hand read them there.",
        ".TP",
        "/var/lib/tagger/state.db\nThe state file (applied tags, watermarks, run history);",
        "under systemd in $STATE_DIRECTORY (StateDirectory=tagger).",
        ".SH SEE ALSO",
        "\\fBtagger help rules\\fR (the rule language, operators, fields and statuses),",
        "\\fBtagger help config\\fR (every setting); \\fBsystemctl\\fR(1), \\fBjournalctl\\fR(1).",
    ]
    return "\n".join(lines) + "\n"
