"""Word lists the synthetic mailbox is drawn from (data only, no logic).

Addresses use the reserved ``example.com`` family and lookalikes of it or of
invented brands; IP addresses come from the documentation ranges
(RFC 5737 / RFC 3849), so nothing here points at a real system.
"""

from __future__ import annotations

from tagger.simulator.records import Check

INTERNAL_DOMAIN = "example.com"
SUBSIDIARY_DOMAIN = "corp.example.com"
INTERNAL_DOMAINS = (INTERNAL_DOMAIN, SUBSIDIARY_DOMAIN)

USERS = (
    ("alice.smith", "Alice Smith"),
    ("bob.jones", "Bob Jones"),
    ("carol.white", "Carol White"),
    ("dave.brown", "Dave Brown"),
    ("erin.green", "Erin Green"),
    ("frank.black", "Frank Black"),
    ("grace.hall", "Grace Hall"),
    ("heidi.king", "Heidi King"),
    ("ivan.lopez", "Ivan Lopez"),
    ("judy.moore", "Judy Moore"),
    ("ceo", "Morgan Reyes (CEO)"),
    ("cfo", "Sam Patel (CFO)"),
)
LEGAL_GROUP = ("legal", "Legal Team")
FINANCE_GROUP = ("finance", "Finance")
AP_GROUP = ("accounts-payable", "Accounts Payable")
OTHER_GROUPS = (("hr", "Human Resources"), ("it-support", "IT Support"))

PARTNER_DOMAINS = (
    "acme-supplies.com",
    "globex.net",
    "initech.io",
    "northwind-traders.com",
    "partner-logistics.com",
    "fabrikam.co.uk",
    "contoso-bank.com",
)
LAW_DOMAINS = ("hartley-law.com", "brightline-legal.co.uk")
AUDIT_DOMAINS = ("audit-partners.eu", "ledgerwise-accounting.com")
PARTNER_PEOPLE = (
    ("sales", "Sales Team"),
    ("billing", "Billing"),
    ("j.doe", "John Doe"),
    ("m.garcia", "Maria Garcia"),
    ("noreply", "Notifications"),
    ("orders", "Order Desk"),
)
NEWSLETTER_DOMAINS = (
    "news.techdigest.io",
    "mailer.shopdeals.com",
    "updates.cloudnotify.io",
    "events.conferencehub.net",
    "promo.travelsaver.com",
)
PHISH_DOMAINS = (
    "examp1e.com",
    "exarnple.com",
    "paypa1-secure.net",
    "micros0ft-login.com",
    "secure-docs-share.xyz",
    "invoice-portal.top",
    "parcel-track-express.info",
    "account-verify-center.com",
)
SPAM_DOMAINS = (
    "cheap-meds-online.biz",
    "crypto-wins.click",
    "bestdeals4u.shop",
    "prize-claims.win",
)
BULK_SENDERS = (("newsletter", "Newsletter"), ("deals", "Deals"), ("info", "Info"))
SHADY_SENDERS = (
    ("security", "Security Team"),
    ("support", "Account Support"),
    ("billing", "Billing Department"),
    ("no-reply", "IT Helpdesk"),
    ("admin", "Mail Administrator"),
)

BUSINESS_SUBJECTS = (
    "Invoice {n} from {org}",
    "Purchase order PO-{n}",
    "Shipping notice: order {n} has shipped",
    "Meeting notes: Q{q} planning",
    "Quote request #{n}",
    "Re: delivery schedule",
    "Your statement for {month}",
)
NEWSLETTER_SUBJECTS = (
    "{org} Weekly Digest #{n}",
    "Top deals this week",
    "Webinar invitation: cloud security basics",
    "Your monthly product update",
    "Last chance: 30% off everything",
)
PHISH_SUBJECTS = (
    "Password reset required for your account",
    "Action required: verify your mailbox",
    "Unusual sign-in activity detected",
    "Your account will be suspended",
    "Document shared with you: Contract_{n}.pdf",
    "Invoice overdue - payment needed",
    "Payment failed: update your billing details",
)
SPOOF_SUBJECTS = (
    "Urgent wire transfer needed today",
    "Are you at your desk?",
    "Confidential: acquisition update",
    "Gift cards for the team",
    "Updated bank details for payroll",
)
MALWARE_SUBJECTS = (
    "Scanned document {n}",
    "Invoice_{n}",
    "Delivery failure notice",
    "Voicemail message received",
    "Remittance advice {n}",
)
SPAM_SUBJECTS = (
    "You won a prize!!!",
    "Lose weight fast",
    "Crypto investment opportunity",
    "Cheap meds, no prescription",
    "Claim your reward now",
)
INTERNAL_SUBJECTS = (
    "Lunch on Friday?",
    "Team offsite agenda",
    "Re: budget review",
    "Weekly status report",
    "IT maintenance window tonight",
    "Password reset for your example.com account",
    "Updated HR policy",
)
LEGAL_SUBJECTS = (
    "NDA for review - {org}",
    "Contract redline v{n}",
    "Litigation hold notice: matter {n}",
    "Signed agreement {org}",
    "Subpoena response draft",
)
FINANCE_SUBJECTS = (
    "Invoice {n} from {org}",
    "Q{q} financial statements",
    "Payment remittance {n}",
    "Audit request: FY{year}",
    "Bank reconciliation {month}",
)
OUTBOUND_SUBJECTS = (
    "Proposal for {org}",
    "Re: quote request #{n}",
    "Meeting follow-up",
    "Order confirmation {n}",
)
SENSITIVE_SUBJECTS = (
    "Customer list export",
    "Payroll {month}",
    "Database backup",
    "Employee records",
    "Q{q} revenue by customer",
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August")

MIME_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docm": "application/vnd.ms-word.document.macroEnabled.12",
    "png": "image/png",
    "ics": "text/calendar",
    "zip": "application/zip",
    "7z": "application/x-7z-compressed",
    "exe": "application/x-msdownload",
    "js": "application/javascript",
    "vbs": "text/vbscript",
    "iso": "application/x-iso9660-image",
    "html": "text/html",
    "csv": "text/csv",
    "pst": "application/vnd.ms-outlook",
    "sql": "application/sql",
    "kdbx": "application/octet-stream",
}
BENIGN_EXTENSIONS = ("pdf", "pdf", "pdf", "docx", "xlsx", "png", "ics")
RISKY_EXTENSIONS = ("exe", "js", "iso", "html", "zip", "docm", "vbs")
SENSITIVE_EXTENSIONS = ("xlsx", "csv", "zip", "pst", "sql", "kdbx", "7z")
COMPLIANCE_EXTENSIONS = ("pdf", "pdf", "docx", "xlsx")

DETECTION_LEVELS = ("relaxed", "moderate", "aggressive")

PASS = Check(True, "allow")
FAIL = Check(False, "fail")
NONE = Check(True, "none")
UNKNOWN = Check(True, "unknown")
RBL_CLEAN = Check(True, "")
RBL_LISTED = Check(False, "fail")
NO_MATCH = Check(False, "none")
MATCHED = Check(True, "allow")
# Real data: the check failed but the policy let the message through (allow ≠ info).
FAIL_ALLOWED = Check(True, "fail")

# Component types and names of the parts that are not attachments.
TRANSMISSION = ("Email Transmission File", "transmission.eml", "eml", "message/rfc822-stubbed")
BODY_PARTS = {
    "html": ("Email Primary Body HTML", "body.htm", "htm", "text/html"),
    "plain": ("Email Primary Body Plain Text", "body.txt", "htm", "text/plain"),  # "htm" sic
    "part": ("Email HTML Body Part", "", "", "text/html"),
}
BODY_LAYOUTS = (("html", "plain"), ("html", "plain"), ("plain",), ("html", "plain", "part"))
# The type name of an attached file is undocumented: vary it (empty = no type).
ATTACHMENT_TYPES = ("Email Attachment", "Email Attachment", "Attachment", "File", "")
SYMBOL_GROUPS = ("header", "content", "reputation", "authentication")

STATUS_INFO = {
    "archived": "Archived",
    "delivery": "Delivered",
    "held": "Held for review",
    "rejected": "Rejected",
    "bounced": "Bounced",
    "deferred": "Deferred - retrying",
    "accepted": "Accepted",
    "processing": "Processing",
}
