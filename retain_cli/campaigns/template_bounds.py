"""Bounds on what a template may cost: :data:`MAX_SECONDS` of time per message and
:data:`MAX_CHARS` characters per rendered part, so that no campaign file can make
``retain campaigns check``, ``retain send`` or ``preview`` run for minutes or fill the memory.

Time: :func:`time_bound` arms a watchdog (``SIGALRM``, in the main thread, where every
command renders) for the whole message; when it fires, :class:`TemplateTooSlow` is raised in
the middle of whatever the template was doing. Elsewhere (a library caller's thread) only the
size bounds hold.

Size: the output is counted as it streams out of the template (:func:`render_bounded`).
Values are measured before Python builds them from a size the template chose: ``*``, ``**``,
``%`` and ``+`` (:meth:`BoundedSandbox.call_binop`), ``~`` (the code generator's Concat), the
padding and joining methods of strings (:meth:`BoundedSandbox.call`), ``str.format`` widths,
every filter's input and the filters that multiply (``center``, ``indent``, ``join``,
``replace``, ``wordwrap``, ``batch``, ``slice``, ``format``), ``lipsum``, and whatever ``{{ }}``
prints (:func:`text_weight`: a list holding one big string a thousand times weighs a thousand
times as much, although it is small in memory). Anything heavier raises
:class:`TemplateTooBig`. Loops are not counted; the watchdog stops them.
"""

from __future__ import annotations

import functools
import re
import signal
import string
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jinja2.compiler import CodeGenerator, optimizeconst
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_CHARS = 1_000_000  # characters per rendered subject, text or HTML (an e-mail is ~10,000)
MAX_SECONDS = 2.0  # per message (all its parts); a usual one takes a fraction of a millisecond
MAX_INT_BITS = 100_000  # integers a template computes (a 30,000-digit number is plenty)
_SMALL = (str, int, float, bool, type(None))


class TemplateTooBig(Exception):
    """A template would make a value or an output over :data:`MAX_CHARS` characters."""


class TemplateTooSlow(Exception):
    """A template took longer than :data:`MAX_SECONDS` to render one message."""


def too_big(what: str, size: int) -> TemplateTooBig:
    return TemplateTooBig(
        f"{what} would make {size:,} characters (at most {MAX_CHARS:,} in a template); "
        "is a loop or a repeat too large?"
    )


def text_weight(value: Any, limit: int = MAX_CHARS) -> int:
    """About how many characters ``value`` takes as text (a list: its items and commas),
    counting each occurrence of a shared item; stops counting soon after ``limit``."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, _SMALL):
        return 8
    known: dict[int, int] = {}

    def weigh(item: Any) -> int:
        if isinstance(item, str):
            return len(item)
        if isinstance(item, _SMALL):
            return 8
        key = id(item)
        if key in known:
            return known[key]
        known[key] = 8  # (a structure that holds itself)
        if isinstance(item, Mapping):
            parts: Any = (p for pair in item.items() for p in pair)
        elif isinstance(item, list | tuple | set | frozenset):
            parts = item
        elif isinstance(item, Namespace):  # namespace(): its attributes
            parts = object.__getattribute__(item, "_Namespace__attrs").values()
        else:  # a date, a number, an undefined value (Jinja reports it), a macro ...
            return 8
        total = 2
        for part in parts:
            total += weigh(part) + 2
            if total > limit:
                break
        known[key] = total
        return total

    return weigh(value)


def _check(value: Any, what: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_CHARS:
        weight = text_weight(value)
        if weight > MAX_CHARS:
            raise too_big(what, weight)


_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_printf(template: str, args: Any, what: str) -> None:
    """``template % args``: the widths it asks for, and the arguments as text."""
    values = args if isinstance(args, tuple) else (args,)
    for width, precision in _PRINTF_WIDTH.findall(template):
        for number in (width, precision):
            if number.isdigit() and int(number) > MAX_CHARS:
                raise too_big(what, int(number))
    if "*" in template:
        for value in values:
            if isinstance(value, int) and abs(value) > MAX_CHARS:
                raise too_big(what, abs(value))
    _check_size(len(template) + text_weight(args), what)


def _check_size(size: int, what: str) -> None:
    if size > MAX_CHARS:
        raise too_big(what, size)


def _check_format_spec(template: str, args: Any, kwargs: Any, what: str) -> None:
    """``template.format(...)``: no width over the bound, no width taken from an argument."""
    for _, _, spec, _ in string.Formatter().parse(template):
        if spec and "{" in spec:
            raise TemplateTooBig(f"{what}: a width taken from an argument is not allowed")
        for number in re.findall(r"\d+", spec or ""):
            if int(number) > MAX_CHARS:
                raise too_big(what, int(number))
    _check_size(len(template) + text_weight(args) + text_weight(kwargs), what)


# --- operators, methods and filters ----------------------------------------------------------


def _repeat_size(left: Any, right: Any) -> int | None:
    """Characters (or items) of ``left * right`` when it repeats a sequence; else None."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            return text_weight(seq) * max(times, 0)
    return None


def _bits(left: Any, right: Any, operator: str) -> int:
    """Bits of ``left operator right`` for integers (0 for anything else)."""
    if not (isinstance(left, int) and isinstance(right, int)):
        return 0
    if operator == "*":
        return left.bit_length() + right.bit_length()
    return left.bit_length() * right if abs(left) > 1 and right > 0 else 0


def check_binop(operator: str, left: Any, right: Any) -> None:
    what = f"'{operator}'"
    if operator in ("*", "**") and _bits(left, right, operator) > MAX_INT_BITS:
        raise TemplateTooBig(f"{what} would make a number too large for a template")
    if operator == "*":
        size = _repeat_size(left, right)
        if size is not None:
            _check_size(size, what)
    elif operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _check_size(text_weight(left) + text_weight(right), what)
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right, what)


def _str_method(name: str, text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    what = f"'.{name}()'"
    values = [*args, *kwargs.values()]
    if name in ("ljust", "rjust", "center", "zfill"):
        for value in values:
            if isinstance(value, int):
                _check_size(value, what)
    elif name == "expandtabs":
        size = max((v for v in values if isinstance(v, int)), default=8)
        _check_size(len(text) + text.count("\t") * size, what)
    elif name == "join" and values:
        items = values[0]
        if isinstance(items, list | tuple):
            _check_size(text_weight(items) + len(text) * len(items), what)
    elif name == "replace" and len(values) >= 2:
        old, new = values[0], values[1]
        if isinstance(old, str) and isinstance(new, str):
            count = text.count(old) if old else len(text) + 1
            _check_size(len(text) + count * max(len(new) - len(old), 0), what)
    elif name == "translate" and values and isinstance(values[0], Mapping):
        longest = max((text_weight(v) for v in values[0].values()), default=0)
        _check_size(len(text) * max(longest, 1), what)


# filters that do not turn their input into text (so a heavy list may go through them)
NOT_TEXT = frozenset(
    {"length", "count", "first", "last", "random", "max", "min", "map", "select", "reject",
     "selectattr", "rejectattr", "sort", "unique", "reverse", "items", "dictsort", "attr",
     "default", "d", "abs", "int", "float", "round", "groupby", "batch", "slice", "list"}
)  # fmt: skip


MULTIPLYING = frozenset({"center", "batch", "slice", "indent", "join", "replace", "wordwrap"})
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _filter_check(name: str, values: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Before a filter runs (``values``: its input and arguments): its input as text, and
    the filters that multiply it."""
    what = f"the filter '{name}'"
    if name not in NOT_TEXT:
        for value in values:
            _check(value, what)
    value = values[0] if values else None
    rest = [*values[1:], *kwargs.values()]
    numbers = [v for v in rest if isinstance(v, int) and not isinstance(v, bool)]
    if name in ("center", "batch", "slice") and numbers:
        _check_size(max(numbers), what)
    elif name == "indent" and isinstance(value, str):
        width = rest[0] if rest else 4
        pad = width if isinstance(width, int) else text_weight(width)
        _check_size(len(value) + (value.count("\n") + 1) * max(pad, 0), what)
    elif name == "join" and isinstance(value, list | tuple):
        sep = rest[0] if rest else kwargs.get("d", "")
        _check_size(text_weight(value) + text_weight(sep) * len(value), what)
    elif name == "replace" and isinstance(value, str) and len(rest) >= 2:
        _str_method("replace", value, (rest[0], rest[1]), {})
    elif name == "wordwrap" and isinstance(value, str):
        width = numbers[0] if numbers else 79
        joint = next((v for v in rest if isinstance(v, str)), "\n")
        _check_size(len(value) + (len(value) // max(width, 1) + 1) * len(joint), what)
    elif name == "format" and isinstance(value, str):
        _check_printf(value, tuple(rest), what)


def bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (a filter) with :func:`_filter_check` before it; its ``pass_context``
    marks kept."""
    if getattr(function, "_retain_bounded", False):
        return function

    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0  # a context
    checked = name in MULTIPLYING or name == "format"

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        values = args[skip:] if skip else args
        if checked or kwargs or any(type(v) not in _PLAIN for v in values):
            _filter_check(name, values, kwargs)
        return function(*args, **kwargs)

    run._retain_bounded = True  # type: ignore[attr-defined]
    return run


def _lipsum(function: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(function)
    def run(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        _check_size(int(n) * int(max) * 12, "lipsum()")
        return function(n, html, min, max)

    return run


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` so that the parts are measured before they are joined (Jinja's
    own ``visit_Concat``, the parts handed to ``environment.concat_bounded``)."""

    @optimizeconst
    def visit_Concat(self, node: Any, frame: Any) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.concat_bounded({join}, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the size checks of this module (see its docstring)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lipsum = self.globals.get("lipsum")
        if callable(lipsum):
            self.globals["lipsum"] = _lipsum(lipsum)

    def bound_filters(self) -> None:
        """Wrap every filter (call after adding the environment's own)."""
        for name, function in list(self.filters.items()):
            self.filters[name] = bounded_filter(name, function)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name == "join" and args and not isinstance(args[0], list | tuple):
                args = (list(args[0]), *args[1:])  # (a generator: counted, then joined)
            _str_method(name, owner, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        @functools.wraps(wrapped)
        def run(*args: Any, **kwargs: Any) -> str:
            _check_format_spec(text, args, kwargs, "'.format()'")
            return wrapped(*args, **kwargs)

        return run

    def concat_bounded(self, join: Callable[[Any], str], parts: tuple[Any, ...]) -> str:
        _check_size(sum(text_weight(part) for part in parts), "'~'")
        return join(parts)


def render_bounded(chunks: Iterator[str], what: str) -> str:
    """The template's output, stopped as soon as it passes :data:`MAX_CHARS`."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_CHARS:
            raise TemplateTooBig(
                f"{what} writes more than {MAX_CHARS:,} characters (an e-mail has about "
                "10,000); is a loop too large? Rendering stops there"
            )
        parts.append(chunk)
    return "".join(parts)


def finalize_bounded(value: Any) -> Any:
    """What ``{{ ... }}`` prints: None as "", anything else measured first."""
    if value is None:
        return ""
    if not isinstance(value, _SMALL):
        _check(value, "'{{ ... }}'")
    return value


_previous: list[Any] = []  # the SIGALRM handler before ours, once ours is installed
_armed: list[float] = [0.0]  # the bound being timed (0: none)


def _alarm(signum: int, frame: Any) -> None:
    seconds = _armed[0]
    if seconds:
        _armed[0] = 0.0
        raise TemplateTooSlow(
            f"rendering took longer than {seconds:g} s (is a loop too large?); it was stopped"
        )
    previous = _previous[0] if _previous else None
    if callable(previous):  # someone else's alarm
        previous(signum, frame)


def arm(seconds: float | None = None) -> bool:
    """Start timing a render: :class:`TemplateTooSlow` is raised in it after ``seconds``
    (default :data:`MAX_SECONDS`) unless :func:`disarm` comes first. A ``SIGALRM`` interval
    timer, in the main thread only and only while no one else uses it; False when it could
    not be armed (the render is then not timed). The handler is installed once (installing it
    costs more than a render) and passes on alarms it did not ask for."""
    if (
        _armed[0]
        or not _CAN_TIME
        or threading.current_thread() is not threading.main_thread()
        or signal.getitimer(signal.ITIMER_REAL)[0]
    ):
        return False
    if not _previous:
        _previous.append(signal.signal(signal.SIGALRM, _alarm))
    seconds = MAX_SECONDS if seconds is None else seconds
    _armed[0] = seconds
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return True


def disarm() -> None:
    _armed[0] = 0.0
    signal.setitimer(signal.ITIMER_REAL, 0)


_CAN_TIME = hasattr(signal, "setitimer")


@contextmanager
def time_bound(seconds: float | None = None) -> Iterator[None]:
    """The block timed by :func:`arm` (for callers other than the Renderer)."""
    armed = arm(seconds)
    try:
        yield
    finally:
        if armed:
            disarm()
