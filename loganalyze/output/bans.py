"""What keeps the ban tools off a legitimate sender: a fail2ban ``ignoreip`` line
for the jail and a CrowdSec parser whitelist (``--bans``, table output).

Only addresses that :func:`~loganalyze.judge.bans.safe_address` validated are
written, in canonical form; nothing logged (names, HELOs) reaches these files,
not even in a comment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..judge.bans import BanCheck, safe_address
from ..judge.hostname import valid_hostname
from ..judge.verdict import Label

if TYPE_CHECKING:
    from ..pipeline import Finding

FAIL2BAN_FILE = "/etc/fail2ban/jail.d/loganalyze-postfix.local"
CROWDSEC_FILE = "/etc/crowdsec/parsers/s02-enrich/loganalyze-helo-senders.yaml"


def banned_legitimate(findings: Sequence[Finding], tool: str) -> list[str]:
    """Validated addresses of the legitimate senders ``tool`` (``fail2ban``,
    ``crowdsec``) would ban, in the findings' order, each once."""
    addresses: list[str] = []
    for finding in findings:
        if finding.verdict.label is not Label.LEGITIMATE or finding.passes_now:
            continue
        if not any(claim.startswith(tool + " ") for claim in finding.would_be_banned_by or ()):
            continue
        address = safe_address(finding.client_ip)
        if address is not None and address not in addresses:
            addresses.append(address)
    return addresses


def _admin_entry(entry: str) -> bool:
    """An ignoreip entry of the admin's configuration that is safe to write back."""
    try:
        ipaddress.ip_network(entry, strict=False)
        return True
    except ValueError:
        return valid_hostname(entry)


def ignoreip_snippet(addresses: Sequence[str], check: BanCheck) -> str:
    """A jail.d file that adds ``addresses`` to the jail's ``ignoreip`` and keeps the
    entries fail2ban already read (a section's ignoreip replaces the inherited one)."""
    jail = check.jail
    kept = [entry for entry in jail.ignoreip if _admin_entry(entry)]
    new = [a for a in addresses if not jail.ignores(a)]
    return (f"# {FAIL2BAN_FILE}, then: fail2ban-client reload {jail.name}\n"
            f"# (it prevents new bans only: fail2ban-client set {jail.name} unbanip ADDRESS)\n"
            f"[{jail.name}]\n"
            f"ignoreip = {' '.join([*kept, *new])}\n")


def crowdsec_whitelist(addresses: Sequence[str]) -> str:
    """A CrowdSec parser whitelist (``s02-enrich``) with ``addresses``."""
    lines = [
        f"# {CROWDSEC_FILE}, then: systemctl reload crowdsec",
        "# (a whitelist prevents new decisions only: cscli decisions delete --ip ADDRESS)",
        'name: "loganalyze/helo-senders"',
        'description: "Legitimate senders whose broken HELO would get them banned"',
        "whitelist:",
        '  reason: "legitimate sender with a broken HELO (loganalyze --bans)"',
        "  ip:",
        *(f'    - "{address}"' for address in addresses),
    ]
    return "\n".join(lines) + "\n"


def render_ban_prevention(findings: Sequence[Finding], check: BanCheck) -> str:
    """For the legitimate senders a ban tool would firewall, the lines that prevent it;
    and which settings the claims come from."""
    parts = [f"# {check.describe()}\n"]
    fail2ban = banned_legitimate(findings, "fail2ban")
    if fail2ban:
        parts.append(f"# fail2ban would ban {len(fail2ban)} legitimate sender"
                     f"{'s' if len(fail2ban) != 1 else ''}; to prevent it:\n"
                     + ignoreip_snippet(fail2ban, check))
    crowdsec = banned_legitimate(findings, "crowdsec")
    if crowdsec:
        parts.append(f"# CrowdSec would ban {len(crowdsec)} legitimate sender"
                     f"{'s' if len(crowdsec) != 1 else ''}; to prevent it:\n"
                     + crowdsec_whitelist(crowdsec))
    return "\n".join(parts)
