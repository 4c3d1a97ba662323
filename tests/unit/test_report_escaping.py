"""The HTML audit report shows hostile text from mail and rule files as text, never as markup.

Every text field of the records and of the rule metadata carries markup,
an attribute breakout, a closing style tag, template syntax, an entity, a
lone surrogate and a NUL. The page is parsed back: no tag but the page's
own appears, every field reads back as the exact text it was (with U+FFFD
for what UTF-8 cannot hold), and the template syntax was not evaluated.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from jinja2 import StrictUndefined, UndefinedError

from tagger.audit import summarise
from tagger.audit.chart import layout
from tagger.audit.html import environment, render_html
from tagger.audit.records import AuditRecord
from tagger.audit.summary import RuleMeta

HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</style>",
    "{{ 7*7 }}",
    "&amp;",
    "\udcff",
    "\x00",
)
EVERYTHING = "".join(HOSTILE)
WHEN = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
# The tags the page itself writes; anything else came from the data.
OWN_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p", "br",
    "div", "b", "table", "thead", "tbody", "tr", "th", "td", "a", "span", "i", "svg",
    "line", "text", "rect", "section", "ul", "li", "details", "summary", "pre", "script",
}  # fmt: skip


def shown(text: str) -> str:
    """Return ``text`` as the page must show it: what UTF-8 cannot hold becomes U+FFFD."""
    return re.sub("[\x00\ud800-\udfff]", "\ufffd", text)


class Page(HTMLParser):
    """Every tag, attribute value and text of a page, entities decoded."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.values: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.values += [v for _, v in attrs if v is not None]

    def handle_data(self, data: str) -> None:
        self.values.append(data)


def hostile_report(payload: str) -> str:
    """Render a report whose every text field (and file name) carries ``payload``."""

    def text(field: str) -> str:
        return f"{field}:{payload}"

    explanation = {
        "match": {
            "condition": "all",
            "result": True,
            "children": [
                {"condition": text("condition"), "result": True, "field": "f", "seen": text("seen")}
            ],
        }
    }
    record = AuditRecord(
        rule=text("rule"),
        message_id=text("message"),
        mode=text("mode"),
        outcome=text("outcome"),
        account=text("account"),
        timestamp=WHEN,
        run_id=text("run"),
        rule_hash=text("hash"),
        received=WHEN,
        sender=f"{text('sender')}@{text('domain')}",
        recipients=(text("recipient"), text("recipient2")),
        subject=text("subject"),
        tags=(f"Security/{text('tag')}",),
        error=text("error"),
        explanation=explanation,
    )
    meta = RuleMeta(
        description=text("description"),
        owner=text("owner"),
        references=(text("reference"),),
        created=text("created"),
        modified=text("modified"),
    )
    summary = summarise([record], rules=[record.rule], meta={record.rule: meta})
    return render_html(summary, [text("file")], WHEN + timedelta(hours=1))


FIELDS = (
    "rule", "message", "mode", "outcome", "account", "sender", "domain", "recipient",
    "recipient2", "subject", "tag", "error", "condition", "seen", "description", "owner",
    "reference", "created", "modified", "file",
)  # fmt: skip


@pytest.mark.parametrize("payload", [*HOSTILE, EVERYTHING], ids=repr)
def test_hostile_text_in_every_field_reads_back_as_text(payload: str) -> None:
    page = hostile_report(payload)
    page.encode("utf-8")  # a lone surrogate would make the page unwritable
    assert "\x00" not in page
    parsed = Page(page)
    assert set(parsed.tags) <= OWN_TAGS, set(parsed.tags) - OWN_TAGS
    assert parsed.tags["script"] == parsed.tags["style"] == 1
    assert parsed.tags["img"] == 0
    everything = "\n".join(parsed.values)
    for field in FIELDS:
        assert f"{field}:{shown(payload)}" in everything, field
    hash_prefix = f"hash:{shown(payload)}"[:12]
    assert hash_prefix in everything


def test_template_syntax_in_mail_is_not_evaluated() -> None:
    page = hostile_report("{{ 7*7 }}{% if true %}yes{% endif %}")
    assert page.count("{{ 7*7 }}{% if true %}yes{% endif %}") >= len(FIELDS)
    everything = "\n".join(Page(page).values)
    for field in FIELDS:
        assert f"{field}:49" not in everything and f"{field}:yes" not in everything, field


def test_raw_hostile_text_never_reaches_the_page() -> None:
    page = hostile_report(EVERYTHING)
    assert "<script>alert" not in page and "<img" not in page
    assert page.count("</style>") == 1 and page.count("</script>") == 1
    assert "&amp;amp;" in page, "an entity in mail must be shown as written, not decoded"


def test_the_policy_allows_exactly_the_page_script() -> None:
    page = hostile_report("x")
    (script,) = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert policy is not None
    assert f"script-src &#39;sha256-{digest}&#39;" in policy.group(1)
    assert "default-src &#39;none&#39;" in policy.group(1)
    assert "http" not in page.replace("http-equiv", "").replace("http://www.w3.org/2000/svg", "")


def test_the_environment_escapes_and_refuses_undefined_names() -> None:
    env = environment()
    assert env is environment(), "made once"
    assert env.undefined is StrictUndefined
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(UndefinedError):
        env.from_string("{{ missing }}").render()


def test_the_chart_stacks_every_match_once() -> None:
    buckets = tuple(WHEN + timedelta(hours=h) for h in range(20))
    a = tuple(h % 3 for h in range(20))
    held = tuple(1 if h % 3 == 2 else 0 for h in range(20))
    applied = tuple(x - y for x, y in zip(a, held, strict=True))
    series = [("a", {"applied": applied, "held": held}), ("b", {"other": tuple([1] * 20)})]
    chart = layout(buckets, series, timedelta(hours=1))
    assert chart is not None and chart.unit == "hour" and chart.peak == 3
    counts: Counter[tuple[str, str]] = Counter()
    for column in chart.columns:
        for bar in column.bars:
            counts[bar.rule, bar.kind] += bar.count
            assert chart.top - 1e-9 <= bar.y and bar.y + bar.height <= chart.baseline + 1e-9
            # Applied is drawn solid, held back lighter, the rest faint.
            assert bar.opacity == {"applied": 1.0, "held": 0.45, "other": 0.2}[bar.kind]
    assert counts == {("a", "applied"): sum(applied), ("a", "held"): sum(held), ("b", "other"): 20}
    assert [c.labelled for c in chart.columns].count(True) == 10
    assert layout((), [], timedelta(days=1)) is None
