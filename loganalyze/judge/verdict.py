"""Weigh the evidence that a rejected sender is a real mail server.

Every piece of evidence is a plain-words sentence with a signed weight; the
score is their sum. All weights live in :class:`Weights`, the one place to
tune them. With the tutorial's restrictions a HELO reject happens before the
policy service runs, so most rejected senders have no SPF line: no rule may
depend on one being present.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..aggregate import KEEP_EXAMPLES as RECIPIENT_EXAMPLES
from ..aggregate import ClientStats, SenderStats
from ..compat import StrEnum, toml_module
from ..errors import ConfigError
from .domains import is_access_line_name, is_generic_name, registered_domain, same_organisation
from .hostname import utf8_hostname_ace
from .spf import SpfOutcome


class Label(StrEnum):
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
    """Generic reverse name of an end-user access line (dsl, cable, dynamic pool...)."""
    provider_generic_name: float = 0.0
    """A data centre's generic reverse name (``ec2-198-51-100-24.compute-1.amazonaws.com``):
    the norm for cloud servers, and it says where the client is, not who runs it."""
    helo_matches_client: float = 1.5
    sender_matches_client: float = 1.5
    helo_matches_sender: float = 1.0
    mta_retries: float = 2.0
    """Retried after a 4xx with MTA-like spacing (minutes, not seconds)."""
    queue_retries: float = 1.0
    """Retried the same message (sender and recipients) after a 4xx sooner than that:
    an application's queue (seconds to a minute); ratware that hammers does not count."""
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
    postscreen_pass: float = 0.5
    """postscreen let it through: it waited for the greeting and is on no DNSBL it scores."""
    postscreen_violation: float = -2.0
    """postscreen saw it talk before the greeting, hang up, or rejected it."""
    helo_dns_temporary: float = -0.5
    """The HELO's DNS fails temporarily: Postfix defers, and the name may resolve later."""
    legitimate_at: float = 3.0
    """A score at or above this is ``legitimate``."""
    spam_below: float = 0.0
    """A score below this is ``spam``; in between is ``suspicious``."""
    many_recipients_at: int = 6
    few_recipients_up_to: int = 3
    retry_min_gap_seconds: float = 60.0
    queue_retry_min_gap_seconds: float = 5.0
    """Sooner than this is no queue waiting to retry, but a client starting over at once."""


DEFAULT_WEIGHTS = Weights()


def load_weights(path: str | Path) -> Weights:
    """Weights from a TOML file: any subset of :class:`Weights` fields, e.g. ``spf_pass = 4``.

    Keys may sit at the top level or in a ``[weights]`` table.
    """
    tomllib = toml_module()  # only --weights needs it

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the weights file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    table = data.get("weights", data)
    known = {f.name: f.type for f in fields(Weights)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(
                f"{path}: unknown weight {key!r}; known: {', '.join(sorted(known))}")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: weight {key!r} must be a number, not {value!r}")
        values[key] = int(value) if known[key] in ("int", int) else float(value)
    return replace(DEFAULT_WEIGHTS, **values)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation and how much it counts."""

    text: str
    weight: float
    kind: str = ""
    """What the identity rule reads (:func:`_unproven`): ``named_host``, ``spf_pass``,
    ``queue`` (the same message retried), ``bot`` (a bot's sign); empty otherwise."""


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


# SPF results, best first: one pass outweighs an earlier temperror.
SPF_ORDER = ["pass", "neutral", "none", "temperror", "permerror", "softfail", "fail"]


def best_spf(sender: SenderStats) -> str | None:
    """The best SPF result logged for ``sender`` (an unknown word ranks last), or None."""
    results = {result for result, _ in sender.spf}
    if not results:
        return None
    return min(results, key=lambda r: SPF_ORDER.index(r) if r in SPF_ORDER else len(SPF_ORDER))


def _spf_words(result: str, domain: str, how: str, w: Weights) -> list[Evidence]:
    where = domain or "the sender"
    weight = {"pass": w.spf_pass, "fail": w.spf_fail, "softfail": w.spf_softfail,
              "none": w.spf_none}.get(result, 0.0)
    if result == "none":
        return [Evidence(f"no SPF record for {where} ({how})", weight)]
    return [Evidence(f"SPF {result} for {where} ({how})", weight,
                     "spf_pass" if result == "pass" else "")]


def _spf_evidence(
    sender: SenderStats, w: Weights, recheck: SpfOutcome | None
) -> list[Evidence]:
    if sender.spf:
        # The best logged result decides: one pass outweighs an earlier temperror.
        result, domain = min(
            sender.spf, key=lambda rd: SPF_ORDER.index(rd[0]) if rd[0] in SPF_ORDER else 9)
        return _spf_words(result, domain, "logged by policyd-spf", w)
    if recheck is not None:
        return _spf_words(recheck.result, recheck.domain, "re-checked", w)
    return []


def _client_evidence(sender: SenderStats, client: ClientStats | None, w: Weights) -> list[Evidence]:
    name = sender.client_name
    out: list[Evidence] = []
    if name == "unknown" and client is not None and client.temporary_hostname_warnings:
        out.append(Evidence("client's reverse name could not be verified (temporary DNS "
                            "failure)", 0.0))
    elif name == "unknown":
        out.append(Evidence("client has no forward-confirmed reverse name", w.no_reverse_name))
    elif is_generic_name(name, sender.client_ip) and is_access_line_name(name):
        out.append(Evidence(f"generic reverse name {name} (an end-user access line)",
                            w.generic_name, "bot"))
    elif is_generic_name(name, sender.client_ip):
        # Cloud and hosting providers name every address alike; Postfix logged it, so it
        # resolves back. Neither for nor against: it names the provider, not the sender.
        out.append(Evidence(f"provider's generic reverse name {name} (forward-confirmed)",
                            w.provider_generic_name))
    else:
        out.append(Evidence(f"reverse DNS forward-confirmed ({name})", w.fcrdns, "named_host"))
    if client is not None and client.hostname_warnings > client.temporary_hostname_warnings:
        out.append(
            Evidence("Postfix warned: reverse name does not resolve to the address",
                     w.reverse_mismatch, "bot")
        )
    return out


def _relation_evidence(sender: SenderStats, w: Weights, spf_pass: bool) -> list[Evidence]:
    """HELO, client name and sender domain agreeing. ``spf_pass``: the sender domain is
    proven; without that, a HELO in the sender's domain is two claims of the client's."""
    out: list[Evidence] = []
    name = sender.client_name
    # A raw UTF-8 HELO is compared in its ACE form, the form DNS names are in.
    helo = (utf8_hostname_ace(sender.helo) or sender.helo).rstrip(".")
    # Lower-case the distinct domains, not every address (most share a few domains).
    raw_domains = {s.rpartition("@")[2] for s in sender.senders if "@" in s}
    domains = sorted({d.lower() for d in raw_domains})
    confirmed = name != "unknown" and not is_generic_name(name, sender.client_ip)
    if confirmed and same_organisation(helo, name):
        out.append(Evidence(f"HELO is in the client's domain {registered_domain(name)}",
                            w.helo_matches_client))
    matching = [d for d in domains if same_organisation(d, name)] if confirmed else []
    if matching:
        out.append(Evidence(f"sender domain {matching[0]} matches the client name",
                            w.sender_matches_client))
    elif any(same_organisation(d, helo) for d in domains):
        out.append(Evidence("HELO is in the sender's domain", w.helo_matches_sender)
                   if spf_pass else
                   Evidence("HELO is in the sender's domain (unproven: no SPF pass)", 0.0))
    return out


def _median(values: list[float]) -> float:
    """``statistics.median`` of a non-empty list, without importing statistics (slow to load)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _retry_evidence(sender: SenderStats, w: Weights) -> list[Evidence]:
    if len(sender.attempts) < 2:
        return []
    attempts = sorted(sender.attempts)
    gaps = [(b - a).total_seconds() for a, b in zip(attempts, attempts[1:], strict=False)]
    span = (attempts[-1] - attempts[0]).total_seconds()
    queue_spaced = _median(gaps) >= w.queue_retry_min_gap_seconds
    same = "queue" if sender.messages_retried and queue_spaced else ""
    if sender.temporary_rejects and _median(gaps) >= w.retry_min_gap_seconds:
        return [Evidence(f"retried {len(attempts) - 1} times over {_minutes(span)}",
                         w.mta_retries, same)]
    if len(attempts) >= 5 and _median(gaps) < 10:
        return [Evidence(f"{len(attempts)} attempts within {_minutes(span)}", w.hammering,
                         "bot")]
    if same and sender.temporary_rejects:
        # An application's queue retries a deferred message within seconds to a minute.
        return [Evidence(f"retried the same message {len(attempts) - 1} times within "
                         f"{_minutes(span)} after a 4xx", w.queue_retries, same)]
    if same:
        # warn_if_reject: nothing was deferred, the same message came again (weighs nothing;
        # it lets an SPF pass count, see _unproven).
        return [Evidence(f"the same sender and recipients in {len(attempts)} sessions", 0.0,
                         same)]
    return []


def _recipient_evidence(
    sender: SenderStats, client: ClientStats | None, w: Weights
) -> list[Evidence]:
    out: list[Evidence] = []
    recipients = sender.recipients
    count = len(recipients)
    if client is not None and count < RECIPIENT_EXAMPLES:
        theirs = client.recipients
        # A full sample on either side is enough to say "at least": no union needed.
        count = len(theirs) if len(theirs) >= RECIPIENT_EXAMPLES else len(recipients | theirs)
    if count >= RECIPIENT_EXAMPLES:
        # Only so many examples are kept per client: past that, say "at least".
        out.append(Evidence(f"{RECIPIENT_EXAMPLES}+ different recipients", w.many_recipients,
                            "bot"))
    elif count >= w.many_recipients_at:
        out.append(Evidence(f"{count} different recipients", w.many_recipients, "bot"))
    elif count and count <= w.few_recipients_up_to:
        out.append(Evidence(f"{count} recipient(s)", w.few_recipients))
    if client is None:
        return out
    rejects = client.rejects
    # get(): a Counter's missing key goes through Python-level __missing__.
    unknown_users = rejects.get("user_unknown", 0)
    if unknown_users:
        out.append(Evidence(f"{unknown_users} unknown-user reject(s)", w.unknown_users,
                            "bot"))
    if rejects.get("rbl", 0) or client.dnsbl_rank or client.dnsbl_lists:
        lists = ", ".join(sorted(client.dnsbl_lists)[:2])
        out.append(Evidence("client is listed on a DNSBL" + (f" ({lists})" if lists else ""),
                            w.rbl_listed, "bot"))
    if client.postscreen_rejects:
        out.append(Evidence(f"{client.postscreen_rejects} postscreen violation(s) or reject(s)",
                            w.postscreen_violation, "bot"))
    elif client.postscreen_pass:
        out.append(Evidence("passed postscreen", w.postscreen_pass))
    if rejects.get("relay", 0):
        out.append(Evidence("client tried to relay", w.relay_attempt, "bot"))
    if rejects.get("spf", 0) or client.spf_rejects:
        out.append(Evidence("rejected by the SPF policy", w.spf_rejected, "bot"))
    if client.queued:
        out.append(Evidence(f"{client.queued} message(s) from this client accepted",
                            w.accepted_before))
    return out


def _unproven(evidence: list[Evidence]) -> str | None:
    """Why a high score is still not proof of who is sending, or None when it is.

    Retries and matching names can be imitated by a bot; a sender is called
    legitimate only with proof of identity.  A forward-confirmed name of its
    own is such proof: someone who runs the address named the host.  An SPF
    pass proves that the envelope domain sends from this address, but a bot
    can register a throwaway domain too: from a client without a name of its
    own (a provider's generic one, or none) it counts only together with a mail
    queue's behaviour (the same message retried) and with no bot sign at all.
    """
    kinds = {e.kind for e in evidence}
    if "named_host" in kinds:
        return None
    if "spf_pass" not in kinds:
        return "no proof of identity (no SPF pass, no forward-confirmed name)"
    if "bot" in kinds:
        return "SPF pass, but from a client without a name of its own that shows a bot's signs"
    if "queue" not in kinds:
        return ("SPF pass, but from a client without a name of its own, and no message "
                "retried: a bot with a throwaway domain looks the same")
    return None


def judge(
    sender: SenderStats,
    client: ClientStats | None,
    weights: Weights = DEFAULT_WEIGHTS,
    *,
    spf_recheck: SpfOutcome | None = None,
    helo_dns: str | None = None,
    spf_missed: bool = False,
) -> Verdict:
    """Weigh what the log (and, if given, a re-checked SPF result) says about one sender.

    ``helo_dns`` is the DNS outcome of the unknown check (``servfail``,
    ``timeout``... count as a caution; ``deadline``, never asked, counts for
    nothing but is said).  ``spf_missed``: the SPF re-check was due, but the DNS
    deadline ran out first (said, weighs nothing).
    """
    evidence: list[Evidence] = []
    evidence += _spf_evidence(sender, weights, spf_recheck)
    evidence += _client_evidence(sender, client, weights)
    evidence += _relation_evidence(sender, weights,
                                   any(e.kind == "spf_pass" for e in evidence))
    evidence += _retry_evidence(sender, weights)
    evidence += _recipient_evidence(sender, client, weights)
    if len(sender.days) > 1:
        evidence.append(Evidence(f"seen on {len(sender.days)} days", weights.seen_several_days))
    if helo_dns in ("servfail", "timeout", "refused"):
        evidence.append(Evidence(f"the HELO's DNS fails temporarily ({helo_dns})",
                                 weights.helo_dns_temporary))
    elif helo_dns == "deadline":
        evidence.append(Evidence("the HELO was not looked up: the DNS deadline ran out", 0.0))
    if spf_missed:
        evidence.append(Evidence("SPF not re-checked: the DNS deadline ran out", 0.0))
    score = round(sum(e.weight for e in evidence), 2)
    unproven = _unproven(evidence) if score >= weights.legitimate_at else None
    if unproven:
        evidence.append(Evidence(unproven, 0.0))
        label = Label.SUSPICIOUS
    elif score >= weights.legitimate_at:
        label = Label.LEGITIMATE
    elif score < weights.spam_below:
        label = Label.SPAM
    else:
        label = Label.SUSPICIOUS
    return Verdict(label, score, tuple(evidence))
