"""What a correct run applies: the rule evaluator alone over the simulator's mailbox."""

from __future__ import annotations

from tagger.mimecast.models import Message, MessageInfo, SmartTag, TrackedEmail
from tagger.rules import RuleSet, evaluate, load_rules, resolve_tags
from tagger.simulator import Simulator
from tagger.simulator.truth import truth_message
from testkit import RULES_DIR


def sim_message(sim: Simulator, message_id: str) -> Message:
    """Return the simulator's message as the rules see it (search summary + info)."""
    summary = TrackedEmail.parse(sim.search_summary_json(message_id))
    info = MessageInfo.parse(sim.message_info_json(message_id))
    assert summary is not None and info is not None
    return Message(summary, info)


def expected_pairs(
    sim: Simulator,
    ruleset: RuleSet | None = None,
    *,
    visible_only: bool = True,
    modes: tuple[str, ...] = ("enforce",),
) -> set[tuple[str, str]]:
    """Return the (message id, tag id) pairs a correct daemon applies to ``sim``'s mailbox.

    Computed from the simulator's own knowledge of each message (which
    components are real attachments, each address, each check's result:
    :func:`~tagger.simulator.truth.truth_message`, not the client's parser), message by
    message, with the rule evaluator alone (no search, window, state or client
    involved), ignoring tags already present (the expected end state includes
    them anyway). ``ruleset`` defaults to the shipped rules; ``visible_only``
    leaves out messages received after the simulator's now.
    """
    rules = ruleset if ruleset is not None else load_rules([RULES_DIR])
    tags = [t for t in (SmartTag.parse(x) for x in sim.smart_tags()) if t is not None]
    ids = {ref: tag.id for ref, tag in resolve_tags(rules, tags).items()}
    now = sim.now()
    out: set[tuple[str, str]] = set()
    for record in sim.messages():
        present = sim.message_info_json(record.id)["retentionInfo"]["smartTags"]
        message = truth_message(record, present)
        received = message.summary.received
        if visible_only and received is not None and received.timestamp() > now:
            continue
        for decision in evaluate(rules, message):
            if decision.mode in modes:
                out.update((record.id, ids[ref]) for ref in decision.tags)
    return out


def applied_pairs(sim: Simulator) -> set[tuple[str, str]]:
    """Return the (message id, tag id) pairs the simulator has seen applied."""
    return set(sim.applied())


def repeated_applies(sim: Simulator) -> dict[tuple[str, str], int]:
    """Return the pairs applied more than once, with their apply-call counts."""
    return {pair: n for pair, n in sim.applied().items() if n > 1}
