"""Weigh the evidence that a rejected sender is a real mail server.

Every piece of evidence is a plain-words sentence with a signed weight; the
score is their sum. All weights live in :class:`Weights`, the one place to
tune them. With the tutorial's restrictions a HELO reject happens before the
policy service runs, so most rejected senders have no SPF line: no rule may
depend on one being present.
"""

from __future__ import annotations

import enum
import statistics
from dataclasses import dataclass

from .domains import is_generic_name, registered_domain, same_organisation
from .senders import ClientStats, SenderStats


class Label(enum.StrEnum):
    """The verdict on a sender."""

    LEGITIMATE = "legitimate"
    SUSPICIOUS = "suspicious"
    SPAM = "spam"


@dataclass(frozen=True)
class Weights:
    """Evidence weights and verdict thresholds (positive = looks legitimate)."""

    spf_pass: float = 3.0
    spf_fail: float = -4.0
    spf_softfail: float = -2.0
    spf_none: float = -0.5
    fcrdns: float = 2.0
    """The client's reverse name resolves back to its address (Postfix logged a name)."""
    no_reverse_name: float = -2.0
    """Postfix logged ``unknown[IP]``."""
    reverse_mismatch: float = -1.0
    """'hostname X does not resolve to address Y' was logged for the client."""
    generic_name: float = -2.0
    """ISP-style reverse name: address embedded, dsl/pool/dynamic."""
    helo_matches_client: float = 1.5
    sender_matches_client: float = 1.5
    helo_matches_sender: float = 1.0
    mta_retries: float = 2.0
    """Retried after a 4xx with MTA-like spacing (minutes, not seconds)."""
    hammering: float = -1.0
    """Many attempts seconds apart: a bot, not a queue."""
    accepted_before: float = 1.0
    """Mail from this client was accepted (before a restriction or for another HELO)."""
    few_recipients: float = 0.5
    many_recipients: float = -2.0
    unknown_users: float = -3.0
    rbl_listed: float = -4.0
    relay_attempt: float = -2.0
    spf_rejected: float = -3.0
    seen_several_days: float = 1.0
    legitimate_at: float = 3.0
    """A score at or above this is ``legitimate``."""
    spam_below: float = 0.0
    """A score below this is ``spam``; in between is ``suspicious``."""
    many_recipients_at: int = 6
    few_recipients_up_to: int = 3
    retry_min_gap_seconds: float = 60.0


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation and how much it counts."""

    text: str
    weight: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement on one sender."""

    label: Label
    score: float
    evidence: tuple[Evidence, ...]

    @property
    def summary(self) -> list[str]:
        """The evidence sentences, strongest first."""
        ordered = sorted(self.evidence, key=lambda e: -abs(e.weight))
        return [e.text for e in ordered]


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _spf_evidence(sender: SenderStats, w: Weights) -> list[Evidence]:
    if not sender.spf:
        return []
    # The best result per domain decides: one pass outweighs an earlier temperror.
    order = ["pass", "neutral", "none", "temperror", "permerror", "softfail", "fail"]
    result, domain = min(sender.spf, key=lambda rd: order.index(rd[0]) if rd[0] in order else 9)
    where = domain or "the sender"
    if result == "pass":
        return [Evidence(f"SPF pass for {where} (logged by policyd-spf)", w.spf_pass)]
    if result == "fail":
        return [Evidence(f"SPF fail for {where} (logged by policyd-spf)", w.spf_fail)]
    if result == "softfail":
        return [Evidence(f"SPF softfail for {where} (logged by policyd-spf)", w.spf_softfail)]
    if result == "none":
        return [Evidence(f"no SPF record for {where} (logged by policyd-spf)", w.spf_none)]
    return [Evidence(f"SPF {result} for {where} (logged by policyd-spf)", 0.0)]


def _client_evidence(sender: SenderStats, client: ClientStats | None, w: Weights) -> list[Evidence]:
    name = sender.client_name
    out: list[Evidence] = []
    if name == "unknown":
        out.append(Evidence("client has no forward-confirmed reverse name", w.no_reverse_name))
    elif is_generic_name(name, sender.client_ip):
        out.append(Evidence(f"generic reverse name {name}", w.generic_name))
    else:
        out.append(Evidence(f"reverse DNS forward-confirmed ({name})", w.fcrdns))
    if client is not None and client.hostname_warnings:
        out.append(
            Evidence("Postfix warned: reverse name does not resolve to the address",
                     w.reverse_mismatch)
        )
    return out


def _relation_evidence(sender: SenderStats, w: Weights) -> list[Evidence]:
    out: list[Evidence] = []
    name = sender.client_name
    helo = sender.helo.rstrip(".")
    domains = sorted({s.rpartition("@")[2].lower() for s in sender.senders if "@" in s})
    confirmed = name != "unknown" and not is_generic_name(name, sender.client_ip)
    if confirmed and same_organisation(helo, name):
        out.append(Evidence(f"HELO is in the client's domain {registered_domain(name)}",
                            w.helo_matches_client))
    matching = [d for d in domains if confirmed and same_organisation(d, name)]
    if matching:
        out.append(Evidence(f"sender domain {matching[0]} matches the client name",
                            w.sender_matches_client))
    elif any(same_organisation(d, helo) for d in domains):
        out.append(Evidence("HELO is in the sender's domain", w.helo_matches_sender))
    return out


def _retry_evidence(sender: SenderStats, w: Weights) -> list[Evidence]:
    attempts = sorted(sender.attempts)
    if len(attempts) < 2:
        return []
    gaps = [(b - a).total_seconds() for a, b in zip(attempts, attempts[1:], strict=False)]
    span = (attempts[-1] - attempts[0]).total_seconds()
    if sender.temporary_rejects and statistics.median(gaps) >= w.retry_min_gap_seconds:
        return [Evidence(f"retried {len(attempts) - 1} times over {_minutes(span)}",
                         w.mta_retries)]
    if len(attempts) >= 5 and statistics.median(gaps) < 10:
        return [Evidence(f"{len(attempts)} attempts within {_minutes(span)}", w.hammering)]
    return []


def _recipient_evidence(
    sender: SenderStats, client: ClientStats | None, w: Weights
) -> list[Evidence]:
    out: list[Evidence] = []
    recipients = set(sender.recipients)
    if client is not None:
        recipients |= client.recipients
    if len(recipients) >= w.many_recipients_at:
        out.append(Evidence(f"{len(recipients)} different recipients", w.many_recipients))
    elif recipients and len(recipients) <= w.few_recipients_up_to:
        out.append(Evidence(f"{len(recipients)} recipient(s)", w.few_recipients))
    if client is None:
        return out
    rejects = client.rejects
    if rejects["user_unknown"]:
        out.append(Evidence(f"{rejects['user_unknown']} unknown-user reject(s)", w.unknown_users))
    if rejects["rbl"]:
        out.append(Evidence("client is listed on a DNSBL", w.rbl_listed))
    if rejects["relay"]:
        out.append(Evidence("client tried to relay", w.relay_attempt))
    if rejects["spf"]:
        out.append(Evidence("rejected by the SPF policy", w.spf_rejected))
    if client.queued:
        out.append(Evidence(f"{client.queued} message(s) from this client accepted",
                            w.accepted_before))
    return out


def judge(
    sender: SenderStats, client: ClientStats | None, weights: Weights = DEFAULT_WEIGHTS
) -> Verdict:
    """Weigh what the log says about one sender and label it."""
    evidence: list[Evidence] = []
    evidence += _spf_evidence(sender, weights)
    evidence += _client_evidence(sender, client, weights)
    evidence += _relation_evidence(sender, weights)
    evidence += _retry_evidence(sender, weights)
    evidence += _recipient_evidence(sender, client, weights)
    if len(sender.days) > 1:
        evidence.append(Evidence(f"seen on {len(sender.days)} days", weights.seen_several_days))
    score = round(sum(e.weight for e in evidence), 2)
    if score >= weights.legitimate_at:
        label = Label.LEGITIMATE
    elif score < weights.spam_below:
        label = Label.SPAM
    else:
        label = Label.SUSPICIOUS
    return Verdict(label, score, tuple(evidence))
