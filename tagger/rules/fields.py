"""The catalogue of fields a rule condition can test.

Every field is normalised from a message-finder search result
(:class:`~tagger.mimecast.models.TrackedEmail`) and/or get-message-info
(:class:`~tagger.mimecast.models.MessageInfo`). A field whose ``source`` is
``"search"`` is read from the search result; when the search result lacks it
and message info is present, it falls back to the info. A field whose source
is ``"info"`` needs get-message-info, so a rule using one makes the daemon
fetch it.

Field values are plain Python: ``str``, ``float``, ``bool``, aware
``datetime``, :mod:`ipaddress` addresses, or tuples of those for list fields.
``None`` means absent.

This module holds the catalogue (:data:`FIELDS`) and the fields about
attachments, spam checks, verdicts, policies and tags; the fields about the
message itself are in :mod:`tagger.rules.fields_message`, the field model in
:mod:`tagger.rules.field_model`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tagger.rules.field_model import (
    RISKS,
    Field,
    check_fields,
    risk_names,
    tag_paths,
    unique,
)
from tagger.rules.fields_message import MESSAGE_FIELDS

CONTENT_FIELDS: tuple[Field, ...] = (
    Field(
        "attachments.count",
        "number",
        "info",
        "Number of attachments (components that are not the transmission file or a body part).",
        2,
        info=lambda i: float(len(i.attachments)),
        json="info: recipientInfo.recipientMetaInfo.components[] (attachments only)",
    ),
    Field(
        "attachments.name",
        "text",
        "info",
        "Attachment file names.",
        "invoice.pdf",
        is_list=True,
        info=lambda i: unique(a.name for a in i.attachments),
        json="info: recipientInfo.recipientMetaInfo.components[].name (attachments only)",
    ),
    Field(
        "attachments.extension",
        "text",
        "info",
        "Attachment file extensions (lower case, no dot).",
        "docm",
        is_list=True,
        info=lambda i: unique(a.extension for a in i.attachments),
        json="info: recipientInfo.recipientMetaInfo.components[].extension (attachments only)",
    ),
    Field(
        "attachments.mime_type",
        "text",
        "info",
        "Attachment MIME types.",
        "application/pdf",
        is_list=True,
        info=lambda i: unique(a.mime_type for a in i.attachments),
        json="info: recipientInfo.recipientMetaInfo.components[].mimeType (attachments only)",
    ),
    Field(
        "attachments.size",
        "number",
        "info",
        "Attachment sizes in bytes.",
        1048576,
        is_list=True,
        info=lambda i: tuple(a.size for a in i.attachments if a.size is not None),
        json="info: recipientInfo.recipientMetaInfo.components[].size (attachments only)",
    ),
    Field(
        "attachments.hash",
        "text",
        "info",
        "Attachment hashes as Mimecast reports them.",
        "9f86d081884c7d65...",
        is_list=True,
        info=lambda i: unique(a.hash for a in i.attachments),
        json="info: recipientInfo.recipientMetaInfo.components[].hash (attachments only)",
    ),
    Field(
        "components.type",
        "text",
        "info",
        "Types of every message component: the transmission file, the body parts and the "
        "attachments (e.g. `Email Primary Body HTML`).",
        "Email Transmission File",
        is_list=True,
        info=lambda i: unique(c.type for c in i.components),
        json="info: recipientInfo.recipientMetaInfo.components[].type",
    ),
    Field(
        "components.name",
        "text",
        "info",
        "File names of every message component, body parts included (`body.htm`).",
        "transmission.eml",
        is_list=True,
        info=lambda i: unique(c.name for c in i.components),
        json="info: recipientInfo.recipientMetaInfo.components[].name",
    ),
    Field(
        "message.size",
        "number",
        "info",
        "Message size in bytes (transmission size).",
        52344,
        info=lambda i: i.size,
        json="info: recipientInfo.recipientMetaInfo.transmissionSize (else binaryEmailSize)",
    ),
    Field(
        "spam.score",
        "number",
        "search",
        "Spam score.",
        12,
        summary=lambda s: s.spam_score,
        info=lambda i: i.spam.score,
        json="search: spamScore; info: spamInfo.spamScore",
    ),
    Field(
        "spam.detection_level",
        "text",
        "search",
        "Spam detection level.",
        "moderate",
        summary=lambda s: s.detection_level,
        info=lambda i: i.spam.detection_level,
        json="search: detectionLevel; info: spamInfo.detectionLevel",
    ),
    Field(
        "greymail",
        "bool",
        "info",
        "Whether Mimecast classed the message as greymail (bulk or marketing).",
        True,
        info=lambda i: i.spam.grey_email,
        json="info: spamInfo.spamProcessingDetail.greyEmail",
    ),
    *check_fields("spf", "spf", "spf"),
    *check_fields("dkim", "dkim", "dkim"),
    *check_fields("dmarc", "dmarc", "dmarc"),
    *check_fields("rbl", "rbl", "rbl"),
    *check_fields("permitted_sender", "permitted_sender", "permittedSender"),
    *check_fields("managed_sender", "managed_sender", "managedSender"),
    Field(
        "verdict.decision",
        "text",
        "info",
        "Verdict decision.",
        "spam",
        info=lambda i: i.spam.verdict.decision if i.spam.verdict else None,
        json="info: spamInfo.spamProcessingDetail.verdict.decision (or descision)",
    ),
    Field(
        "verdict.risk",
        "text",
        "info",
        "Overall verdict risk.",
        "high",
        values=RISKS,
        info=lambda i: i.spam.verdict.risk if i.spam.verdict else None,
        json="info: spamInfo.spamProcessingDetail.verdict.risk",
    ),
    Field(
        "verdict.description",
        "text",
        "info",
        "Verdict description.",
        "Phishing attempt",
        info=lambda i: i.spam.verdict.description if i.spam.verdict else None,
        json="info: spamInfo.spamProcessingDetail.verdict.description",
    ),
    Field(
        "verdict.categories",
        "text",
        "info",
        "Verdict category names.",
        "phishing",
        is_list=True,
        info=lambda i: risk_names(i, 0),
        json="info: spamInfo.spamProcessingDetail.verdict.categories[].name",
    ),
    Field(
        "verdict.subcategories",
        "text",
        "info",
        "Verdict subcategory names.",
        "credential_harvesting",
        is_list=True,
        info=lambda i: risk_names(i, 1),
        json="info: spamInfo.spamProcessingDetail.verdict.categories[].subcategories[].name",
    ),
    Field(
        "verdict.augmentations",
        "text",
        "info",
        "Verdict augmentation names.",
        "lookalike_domain",
        is_list=True,
        info=lambda i: risk_names(i, 2),
        json=(
            "info: spamInfo.spamProcessingDetail.verdict.categories[].subcategories[]"
            ".augmentations[].name"
        ),
    ),
    Field(
        "policies.name",
        "text",
        "info",
        "Names of the policies applied on delivery.",
        "Block executables",
        is_list=True,
        info=lambda i: unique(p.name for d in i.deliveries for p in d.policies),
        json="info: deliveredMessage.{recipient}.policyInfo[].policyName",
    ),
    Field(
        "policies.type",
        "text",
        "info",
        "Types of the policies applied on delivery.",
        "attachmentProtection",
        is_list=True,
        info=lambda i: unique(p.type for d in i.deliveries for p in d.policies),
        json="info: deliveredMessage.{recipient}.policyInfo[].policyType",
    ),
    Field(
        "smart_tags.path",
        "text",
        "info",
        "Smart Tags already on the message, by path.",
        "Security/Phishing",
        is_list=True,
        info=tag_paths,
        json="info: retentionInfo.smartTags[].path (else .name)",
    ),
    Field(
        "smart_tags.name",
        "text",
        "info",
        "Smart Tags already on the message, by name.",
        "Phishing",
        is_list=True,
        info=lambda i: unique(t.name for t in i.smart_tags),
        json="info: retentionInfo.smartTags[].name",
    ),
    Field(
        "litigation_hold",
        "bool",
        "info",
        "Whether the message is under litigation hold.",
        True,
        info=lambda i: bool(i.litigation_holds),
        json="info: retentionInfo.litigationHoldInfo[]",
    ),
)

FIELDS: Mapping[str, Field] = {f.name: f for f in MESSAGE_FIELDS + CONTENT_FIELDS}
