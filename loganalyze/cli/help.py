"""Help and usage errors in the manner of ``postconf(1)`` and ``pflogsumm --help``.

One line per option (``-f, --format FORMAT   what it does``), the choices
spelled out, examples at the end; no boxes, no ``<bool>``. Option help texts
may hold ``{choices}`` (the enum's values, "a, b or c") and ``{default}``.
Usage errors become one line saying what is wrong and what to do.
"""

from __future__ import annotations

import difflib
import enum
import shutil
import textwrap
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer
import typer.core

HELP_OPTIONS = ["-h", "--help"]
CONTEXT = {"help_option_names": HELP_OPTIONS}
_WIDEST_LEFT = 26  # a longer option pushes its text to the next line


def package_version() -> str:
    """``loganalyze X.Y.Z``."""
    try:
        return f"loganalyze {version('loganalyze')}"
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "loganalyze (not installed)"


def show_version(value: bool) -> None:
    """The ``--version`` callback."""
    if value:
        from .. import core  # the library is loaded here, not at start-up

        typer.echo(f"{package_version()}, {core.describe()}")
        raise typer.Exit()


VersionOpt = typer.Option("--version", callback=show_version, is_eager=True,
                          help="show the version and exit")


def _choices(param: Any) -> list[str]:
    """The values an enum-typed parameter takes (empty for other types)."""
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation]
    return [str(c) for c in getattr(getattr(param, "type", None), "choices", None) or ()]


def spelled_out(words: Sequence[str]) -> str:
    """``a, b, c``: each choice as it is typed."""
    return ", ".join(words)


def _metavar(param: Any) -> str:
    if getattr(param, "is_flag", False):
        return ""
    if param.metavar:
        return str(param.metavar)
    return "FORMAT" if _choices(param) else str(param.name).upper()


def _left(param: Any) -> str:
    """``-f, --format FORMAT``: short names first, then long ones, then the value."""
    names = sorted([*param.opts, *param.secondary_opts], key=lambda o: (o.startswith("--"), o))
    metavar = _metavar(param)
    return ", ".join(names) + (f" {metavar}" if metavar else "")


def _text(param: Any) -> str:
    if "--help" in param.opts:
        return "show this help and exit"
    default = param.default
    if isinstance(default, enum.Enum):
        default = default.value
    choices = _choices(param)
    return str(param.help or "").format(choices=spelled_out(choices) if choices else "",
                                        default=default)


def _rows(rows: list[tuple[str, str]], width: int) -> list[str]:
    column = min(max((len(left) for left, _ in rows), default=0), _WIDEST_LEFT) + 4
    out = []
    for left, text in rows:
        wrapped = textwrap.wrap(text, max(20, width - column), break_long_words=False,
                                break_on_hyphens=False) or [""]
        if len(left) + 4 > column:
            out.append(f"  {left}")
        else:
            out.append(f"  {left:<{column - 2}}{wrapped.pop(0)}")
        out += [" " * column + line for line in wrapped]
    return out


def _width() -> int:
    return min(shutil.get_terminal_size((80, 24)).columns, 100)


def render_help(command: Any, ctx: Any, examples: Sequence[str]) -> str:
    """The whole help of one command (or of the ``loganalyze`` group)."""
    width = _width()
    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    arguments = [p for p in params if not hasattr(p, "is_flag")]
    options = [p for p in params if hasattr(p, "is_flag")]
    usage = [ctx.command_path, "[OPTIONS]"]
    usage += [str(a.metavar) if a.required else f"[{a.metavar}]" for a in arguments]
    commands = getattr(command, "commands", None)
    if commands:
        usage.append("COMMAND [ARGS]...")
    lines = ["Usage: " + " ".join(usage), ""]
    lines += textwrap.wrap(" ".join((command.help or "").split()), width) + [""]
    if arguments:
        lines += ["Arguments:", *_rows([(str(a.metavar), _text(a)) for a in arguments], width),
                  ""]
    if commands:
        rows = [(name, (sub.help or "").strip().split("\n")[0])
                for name, sub in commands.items() if not getattr(sub, "hidden", False)]
        lines += ["Commands:", *_rows(rows, width), ""]
    lines += ["Options:", *_rows([(_left(o), _text(o)) for o in options], width)]
    if examples:
        lines += ["", "Examples:", *(f"  {example}" for example in examples)]
    return "\n".join(lines) + "\n"


class PlainCommand(typer.core.TyperCommand):
    """A command whose ``--help`` is :func:`render_help`; set :attr:`examples`."""

    examples: tuple[str, ...] = ()

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Write the plain help."""
        formatter.write(render_help(self, ctx, self.examples))


class PlainGroup(typer.core.TyperGroup):
    """The ``loganalyze`` group with the same plain help."""

    examples: tuple[str, ...] = ()

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Write the plain help."""
        formatter.write(render_help(self, ctx, self.examples))


def with_examples(base: type[Any], *examples: str) -> type[Any]:
    """A subclass of ``base`` (:class:`PlainCommand` or :class:`PlainGroup`) with examples."""
    return type(base.__name__, (base,), {"examples": examples})


# -- usage errors ------------------------------------------------------------------


def _given(args: Sequence[str], names: Sequence[str]) -> str | None:
    """The value given on the command line for an option with these names, if any."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg[len(name) + 1:]
            if not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                return arg[len(name):]
    return None


def _expects(param: Any) -> str:
    choices = _choices(param)
    if choices:
        return f"choose one of {spelled_out(choices)}"
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    name = getattr(getattr(param, "type", None), "name", "")
    floor = "" if getattr(param, "min", None) is None else f", {param.min} or more"
    if annotation is int or "int" in str(annotation) or name == "integer":
        return "give a whole number" + floor
    if annotation is float or "float" in str(annotation) or name == "float":
        return "give a number" + (" of seconds" if param.metavar == "SECONDS" else "") + floor
    return "see --help"


def usage_message(exc: Any, args: Sequence[str], prog: str) -> str:
    """One line for a usage error: what is wrong, and what to do."""
    see = f" (see '{prog} --help')"
    kind = type(exc).__name__
    option = getattr(exc, "option_name", None)
    ctx = getattr(exc, "ctx", None)
    if kind == "NoSuchOption" and option:
        known = [o for p in (ctx.command.params if ctx else ()) for o in p.opts]
        close = difflib.get_close_matches(option, known, n=1, cutoff=0.8)
        hint = f": did you mean {close[0]}?" if close else ""
        return f"unknown option {option}{hint}{see}"
    param = getattr(exc, "param", None)
    if kind == "MissingParameter" and param is not None:
        what = str(param.metavar or param.name).rstrip(".")
        return f"missing {what}: give at least one{see}"
    if kind == "BadOptionUsage" and option:
        return f"{option} needs a value{see}"
    if kind == "NoArgsIsHelpError":
        names = sorted(getattr(ctx.command, "commands", {}) or {}) if ctx else []
        return f"no command given: choose one of {spelled_out(names)}{see}"
    if kind == "BadParameter" and param is not None and getattr(param, "opts", None):
        names = [*param.opts, *param.secondary_opts]
        value = _given(args, names)
        shown = f" {value}" if value is not None else ""
        return f"{max(names, key=len)}{shown}: {_expects(param)}{see}"
    message = exc.format_message().rstrip(".")
    if kind == "UsageError" and message.startswith("No such command"):
        group = ctx.command if ctx else None
        names = sorted(getattr(group, "commands", {}) or {})
        return (f"{message[0].lower()}{message[1:]}: choose one of {spelled_out(names)}{see}"
                if names else message + see)
    return message + see
