"""Work on the admin's own helo_access file: review it, offer domain entries, merge, write.

- review: which entries the log shows in use, which were never seen, which
  are no longer needed (the name passes the checks now), and which now let
  in a sender judged spam;
- domain options: several legitimate HELO names under one domain can share
  one entry, because Postfix looks up parent domains in access tables;
- merge and write: new entries appended after the user's lines (comments and
  order kept), written atomically with a timestamped backup. Nothing here
  runs postmap or reloads Postfix.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import ConfigError
from ..judge.checks import HeloCheckResult, check_helos
from ..judge.dns import HostResolver
from ..judge.domains import has_public_suffix, registered_domain
from ..judge.verdict import Label
from ..pipeline import Analysis, Finding
from .config import ServerIdentity
from .helo_access import HeloAccessTable, access_key, comment_text, unsafe_reason


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """What the log says about one entry of the user's table."""

    key: str
    action: str
    status: str
    """``in use``, ``never seen``, ``no longer needed``, ``now spam``, or ``conflict``
    (an entry that does not permit keeps out a sender judged legitimate)."""
    detail: str


def review_table(
    table: HeloAccessTable,
    seen_helos: Iterable[str],
    findings: Sequence[Finding],
    key_checks: dict[str, HeloCheckResult],
) -> list[ReviewItem]:
    """Review each entry against the log (the permitting ones, and the conflicts).

    ``seen_helos`` are all HELO names in the log; ``key_checks`` holds the
    re-run checks of the table's keys (to tell entries that are no longer needed).
    """
    hits: dict[str, list[str]] = defaultdict(list)
    for helo in seen_helos:
        hit = table.lookup(helo)
        if hit is not None:
            hits[hit[0]].append(helo)
    verdicts: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        hit = table.lookup(finding.helo) if finding.helo else None
        if hit is not None:
            verdicts[hit[0]].append(finding)
    items = []
    for key, action in table.entries.items():
        if not table.permits(key):
            # The admin's own decision against senders judged legitimate: shown, never
            # overridden (nothing is suggested for them).
            legit = [f for f in verdicts[key] if f.verdict.label is Label.LEGITIMATE]
            if legit:
                who = ", ".join(sorted({f"{f.client_name}[{f.client_ip}]" for f in legit})[:3])
                items.append(ReviewItem(key, action, "conflict",
                                        f"keeps out {len(legit)} sender(s) judged legitimate: "
                                        f"{who}; not suggested (your decision)"))
            continue
        spam = [f for f in verdicts[key] if f.verdict.label is Label.SPAM]
        check = key_checks.get(key)
        if spam:
            who = ", ".join(sorted({f"{f.client_name}[{f.client_ip}]" for f in spam})[:3])
            items.append(ReviewItem(key, action, "now spam",
                                    f"it lets in {len(spam)} sender(s) judged spam: {who}"))
        elif not hits[key]:
            items.append(ReviewItem(key, action, "never seen",
                                    "no HELO in these logs matched it"))
        elif check is not None and not check.failed and check.unknown is False:
            items.append(ReviewItem(key, action, "no longer needed",
                                    "the name passes all three checks now"))
        else:
            names = sorted(set(hits[key]))
            items.append(ReviewItem(key, action, "in use",
                                    f"matched {', '.join(names[:3])}"
                                    + (f" and {len(names) - 3} more" if len(names) > 3 else "")))
    return items


@dataclass(frozen=True, slots=True)
class DomainOption:
    """One entry that would cover several suggested HELO names of one domain."""

    domain: str
    names: tuple[str, ...]


def domain_options(findings: Sequence[Finding], server: ServerIdentity) -> list[DomainOption]:
    """Domains under which two or more suggested HELO names sit.

    The option is the longest parent domain the names share, never shorter
    than the registered domain, and never a name the forger rules refuse.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for finding in findings:
        if finding.access_line is None:
            continue
        name = access_key(finding.helo).rstrip(".")
        if has_public_suffix(name):
            groups[registered_domain(name)].append(name)
    options = []
    for base, names in sorted(groups.items()):
        unique = sorted(set(names))
        if len(unique) < 2:
            continue
        common = _common_parent(unique, base)
        if common in unique or unsafe_reason(common, server, "unknown") is not None:
            continue
        options.append(DomainOption(common, tuple(unique)))
    return options


def _common_parent(names: list[str], floor: str) -> str:
    split = [n.split(".")[1:] for n in names]  # parents only: drop each first label
    common: list[str] = []
    for labels in zip(*(reversed(s) for s in split), strict=False):
        if len(set(labels)) != 1:
            break
        common.append(labels[0])
    parent = ".".join(reversed(common))
    return parent if parent.endswith(floor) and len(parent) >= len(floor) else floor


def render_domain_options(options: Sequence[DomainOption]) -> str:
    """Commented-out domain entries with what they would do (safe to append to the table)."""
    blocks = [
        f"# Option: one entry for {len(option.names)} names under {option.domain} "
        f"({', '.join(option.names)}).\n"
        f"# Postfix also looks up parent domains in access tables, so it matches every\n"
        f"# name under {option.domain}, including names a forger makes up. Uncomment to use:\n"
        f"# {option.domain} OK"
        for option in options
    ]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def render_review(items: Sequence[ReviewItem]) -> str:
    """The review as plain text for the terminal or e-mail."""
    if not items:
        return ""
    lines = ["helo_access review:"]
    lines += [f"  {comment_text(i.key):40} {i.status:17} {comment_text(i.detail)}" for i in items]
    return "\n".join(lines) + "\n"


def merge_table(original: str, additions: Sequence[str], when: datetime) -> str:
    """The user's table with ``additions`` (entries with their comments) appended.

    The user's lines, comments and order are kept byte for byte; keys already
    present are not added twice.
    """
    if not additions:
        return original
    text = original
    if text and not text.endswith("\n"):
        text += "\n"
    header = f"# Added by loganalyze on {when:%Y-%m-%d %H:%M}; review, then postmap this file."
    return text + ("\n" if text else "") + header + "\n" + "\n\n".join(additions) + "\n"


def write_atomically(path: Path, text: str, when: datetime) -> Path | None:
    """Replace ``path`` with ``text`` safely: temp file, fsync, rename; back up the old file.

    Returns the backup's path (None when there was no file before). Owner,
    group and mode of an existing file are kept.
    """
    import shutil  # only --write needs these
    import tempfile

    directory = path.parent if str(path.parent) else Path(".")
    backup = None
    try:
        stat = path.stat() if path.exists() else None
        if stat is not None:
            backup = path.with_name(f"{path.name}.{when:%Y%m%d-%H%M%S}.bak")
            shutil.copy2(path, backup)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if stat is not None:
                os.chmod(temp_name, stat.st_mode & 0o7777)
                if hasattr(os, "chown"):
                    try:
                        os.chown(temp_name, stat.st_uid, stat.st_gid)
                    except PermissionError:
                        pass
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the table ({exc.strerror}); nothing changed") \
            from None
    return backup


def review(table: HeloAccessTable, analysis: Analysis, resolver: HostResolver) -> list[ReviewItem]:
    """Review ``table`` against a finished analysis, re-running the checks on its keys."""
    keys = [key for key in table.entries if table.permits(key)]
    key_checks = check_helos(keys, resolver)
    seen = {sender.helo for sender in analysis.traffic.senders.values() if sender.helo}
    return review_table(table, seen, analysis.findings, key_checks)
