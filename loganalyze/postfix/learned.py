"""The mail server's own names, learned from its log when no main.cf says them.

Which machine runs the analysis says nothing about which server wrote the
log (a notebook on a laptop, a copy of the logs on an analysis host), so its
host name is never used. The log names the server itself:

- the syslog host field of its smtpd lines (``mx`` in ``Nov 24 23:08:39 mx
  postfix/smtpd[...]``), as Postfix's default ``myhostname`` is that host;
- the domains its clients send to: recipients at a domain named by at least
  :data:`MIN_CLIENTS` different clients, none of them refused for relaying.
  One client alone may be a bot guessing or a relay attempt; a relay reject
  shows a client that tried foreign domains.

A name learned wrongly only hides senders in that domain (lost advice, never
wrong advice); a name missed would let a forger's HELO through.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from ..aggregate import Traffic
from .config import ServerIdentity

MIN_CLIENTS = 2


def learn_identity(server: ServerIdentity, traffic: Traffic) -> ServerIdentity:
    """``server`` with the host names and domains the log shows (see the module doc)."""
    hosts = {h.lower().rstrip(".") for h in traffic.hosts if h and h != "-"}
    per_domain: Counter[str] = Counter()
    for client in traffic.clients.values():
        if client.rejects.get("relay"):
            continue
        domains = {r.rpartition("@")[2].lower().rstrip(".") for r in client.recipients
                   if "@" in r}
        per_domain.update(d for d in domains if "." in d)
    domains = {d for d, clients in per_domain.items() if clients >= MIN_CLIENTS}
    hostnames = set(hosts)
    # A short syslog host is the first label of myhostname in one of those domains.
    hostnames |= {f"{h}.{d}" for h in hosts if "." not in h for d in domains}
    learned = tuple([f"{h} (syslog host)" for h in sorted(hosts)]
                    + [f"{d} (recipient domain, {per_domain[d]} clients)"
                       for d in sorted(domains)])
    return replace(server, hostnames=server.hostnames | frozenset(hostnames),
                   domains=server.domains | frozenset(domains), learned=learned)


def learned_note(server: ServerIdentity) -> str | None:
    """One line for stderr naming what was learned, or None when main.cf named the server."""
    if not server.learn_from_log:
        return None
    if not server.learned:
        return ("note: no main.cf and the log names no server host or recipient domain: "
                "give --postfix-config so this server's own names are never suggested")
    return ("note: no main.cf (--postfix-config): this server's names, learned from the log: "
            + ", ".join(server.learned))
