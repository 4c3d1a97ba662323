"""Reports over audit files: read the JSON Lines, summarise, render HTML and CSV.

``records`` reads audit files into :class:`AuditRecord` values (tolerating
entries written by older versions), ``summary`` aggregates them (pure),
``html`` renders one self-contained page (inline CSS, JS and SVG) from the
Jinja2 templates in ``templates/``, autoescaping every value taken from mail;
``chart`` lays out its bar chart; ``csvout`` writes one row per entry.
"""

from tagger.audit.records import AuditRecord, read_records
from tagger.audit.summary import RuleSummary, Summary, summarise

__all__ = ["AuditRecord", "RuleSummary", "Summary", "read_records", "summarise"]
