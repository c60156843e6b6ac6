"""Read the few main.cf settings that tell us who *we* are.

A HELO that names our own host or domain is a forger's favourite, so the
suggestion rules need ``myhostname``, ``mydomain``, ``mydestination`` and
``mynetworks``. Without main.cf (or without ``myhostname`` in it) the names
are learned from the log, never taken from the machine the analysis runs
on. We read main.cf ourselves (``postconf`` may not be installed where the
logs are analysed) and expand ``$name``/``${name}`` references.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError

_REF = re.compile(r"\$(?:\{(\w+)\}|\((\w+)\)|(\w+))")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[_Network, ...]:
    """The address blocks among ``mynetworks`` entries (parsed once: a run asks for each
    client); a table or host name cannot be matched here and is left out."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.replace("[", "").replace("]", ""),
                                                 strict=False))
        except ValueError:
            continue
    return tuple(networks)


@dataclass(frozen=True)
class ServerIdentity:
    """Our own names and networks, which must never be whitelisted by HELO."""

    hostnames: frozenset[str] = field(default_factory=frozenset)
    """``myhostname`` and other names of this server, lower case."""
    domains: frozenset[str] = field(default_factory=frozenset)
    """``mydomain`` and ``mydestination`` domains, lower case."""
    networks: tuple[str, ...] = ()
    """``mynetworks`` entries as written."""
    helo_restrictions: str = ""
    """``smtpd_helo_restrictions`` as written, for advice on where the table goes."""
    learn_from_log: bool = False
    """No main.cf said who we are: the pipeline learns the names from the log
    (:mod:`loganalyze.postfix.learned`), never from the machine it runs on."""
    learned: tuple[str, ...] = ()
    """The names learned from the log, each with where it came from (for stderr)."""
    origin: str = ""
    """``myorigin`` expanded: the domain locally posted mail comes from (Debian sets it to
    the file ``/etc/mailname``; :func:`mail_origin` reads that)."""

    def owns_address(self, ip: str) -> bool:
        """True for a loopback address or one in ``mynetworks``: never a client-access entry
        (permit_mynetworks already lets it in, and an entry would outlive a change there)."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if address.is_loopback:
            return True
        return any(address.version == network.version and address in network
                   for network in _networks(self.networks))

    smtputf8: bool | None = None
    """``smtputf8_enable`` as main.cf sets it (or its default there); None without a main.cf.
    Only with it on does smtpd keep a raw UTF-8 HELO, so only then can a UTF-8 key match."""

    def owns(self, name: str) -> bool:
        """True when ``name`` is one of our host names or in one of our domains."""
        name = name.lower().rstrip(".")
        if name in self.hostnames or name in self.domains:
            return True
        return any(name.endswith("." + d) for d in self.domains)


def parse_main_cf(text: str) -> dict[str, str]:
    """Parse main.cf syntax: ``name = value``, ``#`` comments, indented continuation lines."""
    params: dict[str, str] = {}
    current: str | None = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace():
            if current is not None:
                params[current] += " " + raw.strip()
            continue
        name, sep, value = raw.partition("=")
        if not sep:
            current = None
            continue
        current = name.strip()
        params[current] = value.strip()
    return params


def _expand(value: str, params: dict[str, str], depth: int = 0) -> str:
    if depth > 10:
        return value

    def sub(m: re.Match[str]) -> str:
        key = m.group(1) or m.group(2) or m.group(3)
        return _expand(params.get(key, ""), params, depth + 1)

    return _REF.sub(sub, value)


def _split(value: str) -> list[str]:
    return [v for v in re.split(r"[\s,]+", value) if v]


def smtputf8_enabled(params: dict[str, str]) -> bool | None:
    """``smtputf8_enable`` of these main.cf parameters, None when it cannot be told.

    Postfix's default is ``yes`` from ``compatibility_level`` 1 on, and the level
    defaults to 0 when main.cf does not set it.
    """
    value = _expand(params.get("smtputf8_enable", ""), params).strip().lower()
    if value in ("yes", "no"):
        return value == "yes"
    if value:
        return None  # an expression we do not evaluate
    level = _expand(params.get("compatibility_level", "0"), params).strip()
    major = level.split(".", 1)[0]
    return int(major) >= 1 if major.isdigit() else None


def identity_from_params(params: dict[str, str], *, main_cf: bool = True) -> ServerIdentity:
    """Build a :class:`ServerIdentity` from main.cf parameters (Postfix defaults filled in).

    ``main_cf`` False: there is no main.cf (``params`` empty), so what depends on
    its settings (``smtputf8``) is left unknown.
    """
    params = dict(params)
    # Without myhostname Postfix uses the host name of the machine it runs on, which
    # need not be this one (a copy of the config, logs analysed elsewhere): learn it
    # from the log instead.
    myhostname = params.get("myhostname", "")
    params["myhostname"] = myhostname
    # Postfix's "localdomain" fallback is for a known dotless myhostname; with none known,
    # the domain is unknown too (else every *.localdomain sender would count as ours).
    params.setdefault("mydomain", myhostname.partition(".")[2]
                      or ("localdomain" if myhostname else ""))
    params.setdefault("mydestination", "$myhostname, localhost.$mydomain, localhost")
    hostnames = {_expand(myhostname, params).lower().rstrip(".")}
    domains = {_expand(params["mydomain"], params).lower().rstrip(".")}
    for item in _split(_expand(params["mydestination"], params)):
        if "/" in item or ":" in item:
            continue  # a lookup table, not a name
        domains.add(item.lower().rstrip("."))
    domains.discard("localhost")
    domains.discard("")
    networks = tuple(
        n for n in _split(_expand(params.get("mynetworks", ""), params)) if "/" in n or "." in n
    )
    return ServerIdentity(
        hostnames=frozenset(h for h in hostnames if h),
        domains=frozenset(d for d in domains if d),
        networks=networks,
        helo_restrictions=_expand(params.get("smtpd_helo_restrictions", ""), params),
        learn_from_log=not myhostname,
        origin=_expand(params.get("myorigin", "$myhostname"), params).strip(),
        smtputf8=smtputf8_enabled(params) if main_cf else None,
    )


def _sending_host() -> str:
    """The name of the machine that sends the report: right for a From address, though
    never for the mail server's own names (those come from main.cf or the log)."""
    import socket  # only when a report is mailed without myorigin or myhostname

    return socket.getfqdn()


def mail_origin(identity: ServerIdentity) -> str:
    """The domain our own mail comes from: ``myorigin``, whose value may be a file
    holding the name (Debian's ``/etc/mailname``), else ``myhostname``."""
    origin = identity.origin
    if origin.startswith("/"):
        try:
            with open(origin, encoding="utf-8", errors="replace") as f:
                origin = f.readline().strip()
        except OSError:
            origin = ""
    if not origin or any(c.isspace() for c in origin):
        origin = min(identity.hostnames, default="") or _sending_host()
    return origin.lower().rstrip(".")


def load_identity(config_dir: str | Path) -> ServerIdentity:
    """Read ``main.cf`` in ``config_dir`` (e.g. /etc/postfix)."""
    path = Path(config_dir)
    if path.is_dir():
        path = path / "main.cf"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read Postfix's main.cf ({exc.strerror}); "
            "give the directory that holds it with --postfix-config"
        ) from None
    return identity_from_params(parse_main_cf(text))


def default_config_dir() -> Path:
    """Where main.cf is by default: ``$MAIL_CONFIG`` (as for Postfix's own commands),
    else /etc/postfix."""
    import os

    return Path(os.environ.get("MAIL_CONFIG") or "/etc/postfix")


def default_identity() -> ServerIdentity:
    """main.cf in :func:`default_config_dir` when it exists, else nothing yet: the
    names come from the log."""
    main_cf = default_config_dir() / "main.cf"
    if main_cf.is_file():
        try:
            return load_identity(main_cf)
        except ConfigError:
            pass
    return ServerIdentity(learn_from_log=True)


_HELO_CHECKS = ("reject_invalid_helo_hostname", "reject_non_fqdn_helo_hostname",
                "reject_unknown_helo_hostname", "reject_invalid_hostname",
                "reject_non_fqdn_hostname", "reject_unknown_hostname")


def enforces_unknown_check(identity: ServerIdentity) -> bool:
    """True when smtpd_helo_restrictions has reject_unknown_helo_hostname, not under
    warn_if_reject (which only logs what it would reject)."""
    items = [i.lower() for i in _split(identity.helo_restrictions)]
    return any(item in ("reject_unknown_helo_hostname", "reject_unknown_hostname")
               and (n == 0 or items[n - 1] != "warn_if_reject") for n, item in enumerate(items))


def restriction_advice(identity: ServerIdentity) -> str | None:
    """A warning when helo_access entries could not work with these restrictions.

    Restrictions are evaluated in order and the first reject wins, so the
    whitelist must come before the reject_*_helo_hostname checks.
    """
    items = [i.lower() for i in _split(identity.helo_restrictions)]
    checks = [n for n, item in enumerate(items) if item in _HELO_CHECKS]
    if not checks:
        return None
    access = [n for n, item in enumerate(items) if item == "check_helo_access"]
    if not access:
        return ("smtpd_helo_restrictions has no check_helo_access: add "
                "'check_helo_access hash:/etc/postfix/helo_access' before "
                f"{items[checks[0]]}, or helo_access entries have no effect")
    if access[0] > checks[0]:
        return (f"check_helo_access comes after {items[checks[0]]} in smtpd_helo_restrictions: "
                "move it before the reject_* checks, or helo_access entries have no effect")
    return None
