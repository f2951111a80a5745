"""Message templates: the sandboxed Jinja2 environment and the :class:`Renderer`.

Templates run in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` (no access to Python
internals, no changing lists or dicts) with ``StrictUndefined``, so a
misspelt variable is an error, never an empty string (also under ``default``). ``None``
values (a customer without a first name) render as an empty string and count as missing for
``default``: ``{{ customer.first_name | default('friend') }}``. HTML templates (``*.html.j2``) are
autoescaped; text templates and subjects are not. A message's rendering is bounded in time and
each part in size (:mod:`retain_cli.campaigns.template_bounds`): a template that loops too
long or writes too much is stopped with an error naming the campaign, step and template.

The ``money`` and ``date`` filters and the context a template sees are in
:mod:`retain_cli.campaigns.context`; the e-mail built from the rendered text in
:mod:`retain_cli.campaigns.message`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.campaigns.context import DEFAULT_CURRENCY, format_date, format_money
from retain_cli.campaigns.message import Rendered, one_line
from retain_cli.campaigns.model import Campaign, CampaignConfig, Step
from retain_cli.errors import ConfigError
from retain_cli.money import DEFAULT_LOCALE

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """``default`` for retain's contexts: every field is always there (None when empty), so
    None takes the default and a name that does not exist at all is a typo, reported."""
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or (boolean and not value):
        return default_value
    return value


def make_environment(
    search: Sequence[Path] = (), *, locale: str = DEFAULT_LOCALE, timezone: str = "UTC"
) -> SandboxedEnvironment:
    """The sandboxed environment every template and subject is compiled in; ``money`` and
    ``date`` write for ``locale`` (the campaign file's ``shop.locale``), dates in
    ``timezone``."""
    from jinja2 import FileSystemLoader, StrictUndefined, pass_context

    from retain_cli.campaigns.template_bounds import BoundedSandbox, finalize_bounded

    def autoescape(name: str | None) -> bool:
        return bool(name) and str(name).endswith((".html.j2", ".html", ".htm"))

    @pass_context
    def money(ctx: Any, amount: Any, currency: str | None = None, minor: bool | None = None) -> str:
        code = currency or ctx.get("currency") or DEFAULT_CURRENCY
        return format_money(amount, code, minor=minor, locale=locale)

    def date(value: Any, fmt: str | None = None) -> str:
        return format_date(value, fmt, locale=locale, timezone=timezone)

    class DictFirstEnvironment(BoundedSandbox):
        """``order.items`` means the key ``items``, not the dict method."""

        def getattr(self, obj: Any, attribute: str) -> Any:
            if type(obj) is dict and attribute in obj:
                return obj[attribute]
            return super().getattr(obj, attribute)

    env = DictFirstEnvironment(
        loader=FileSystemLoader([str(p) for p in search]) if search else None,
        undefined=StrictUndefined,
        autoescape=autoescape,
        finalize=finalize_bounded,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["money"] = money
    env.filters["date"] = date
    env.filters["default"] = _default
    env.filters["d"] = _default
    env.bound_filters()
    return env


def _display(path: Path, config: CampaignConfig) -> str:
    try:
        return str(path.relative_to(config.path.absolute().parent))
    except ValueError:
        return str(path)


@dataclass(slots=True)
class _Compiled:
    subject: Template
    text: Template
    html: Template | None
    labels: dict[str, str]  # jinja file name -> what to call it in errors
    campaign: dict[str, Any]  # the ``campaign`` variable


class Renderer:
    """Compiles each campaign step's templates once, then renders many contexts fast."""

    def __init__(self, config: CampaignConfig) -> None:
        from retain_cli.campaigns import template_bounds

        self.config = config
        self._bounds = template_bounds  # (imported once, not per message)
        base = config.path.absolute().parent
        folders = {base}
        for campaign in config.campaigns:
            for step in campaign.steps:
                folders.add(step.template.parent)
            for variant in campaign.variants:
                folders.update(step.template.parent for step in variant.steps)
        self.env = make_environment(
            sorted(folders), locale=config.shop.locale, timezone=config.shop.timezone
        )
        self._cache: dict[tuple[str, int, str | None], _Compiled] = {}
        # stopped once: at once again
        self._too_slow: dict[tuple[str, int, str | None], ConfigError] = {}
        # a plain dict, not Jinja's ChainMap: every render copies the globals
        self._globals: Any = dict(self.env.make_globals(None))

    def _where(self, campaign: Campaign, step: Step) -> str:
        label = f"{self.config.path}: campaign {campaign.name!r}"
        if step.variant is not None:
            label += f": variant {step.variant}"
        return f"{label}: step {step.index}" if len(campaign.steps) > 1 else label

    def _compile_file(self, path: Path, campaign: Campaign, step: Step) -> Template:
        from jinja2 import TemplateSyntaxError

        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{self._where(campaign, step)}: cannot read {path} ({exc})"
            ) from None
        try:
            code = self.env.compile(source, name=path.name, filename=str(path))
        except TemplateSyntaxError as exc:
            raise ConfigError(
                f"{self._where(campaign, step)}: {_display(path, self.config)} line "
                f"{exc.lineno}: template syntax error: {exc.message}"
            ) from None
        return self.env.template_class.from_code(self.env, code, self._globals)

    def compile(self, campaign: Campaign, step: Step) -> _Compiled:
        """The step's compiled subject, text and HTML templates (cached)."""
        from jinja2 import TemplateSyntaxError

        key = (campaign.name, step.index, step.variant)
        compiled = self._cache.get(key)
        if compiled is not None:
            return compiled
        subject_name = f"<subject of {campaign.name}>"
        try:
            code = self.env.compile(step.subject, name=None, filename=subject_name)
        except TemplateSyntaxError as exc:
            raise ConfigError(
                f"{self._where(campaign, step)}: key 'subject': template syntax error: "
                f"{exc.message}"
            ) from None
        subject = self.env.template_class.from_code(self.env, code, self._globals)
        text = self._compile_file(step.template, campaign, step)
        html = (
            self._compile_file(step.html_template, campaign, step) if step.html_template else None
        )
        labels = {subject_name: "subject", str(step.template): _display(step.template, self.config)}
        if step.html_template:
            labels[str(step.html_template)] = _display(step.html_template, self.config)
        about = {
            "name": campaign.name,
            "step": step.index,
            "steps": len(campaign.steps),
            "variant": step.variant,
        }
        compiled = _Compiled(subject, text, html, labels, about)
        self._cache[key] = compiled
        return compiled

    def render(self, campaign: Campaign, step: Step, context: Mapping[str, Any]) -> Rendered:
        """Subject, text and HTML for one customer. Template errors raise ConfigError, and so
        does a template that takes longer than MAX_SECONDS or writes more than MAX_CHARS (a
        step stopped for its time is not tried again by this renderer)."""
        bounds = self._bounds
        compiled = self.compile(campaign, step)
        stopped = self._too_slow.get((campaign.name, step.index, step.variant))
        if stopped is not None:
            raise stopped
        # one shared namespace for the three templates (Template.render would copy it each time)
        values = {**self._globals, **context, "campaign": compiled.campaign}
        part = "subject"
        run = bounds.render_bounded
        armed = bounds.arm()  # the watchdog: MAX_SECONDS for the whole message
        try:
            try:
                subject = one_line(run(_chunks(compiled.subject, values), "the subject"))
                part = str(step.template)
                text = run(_chunks(compiled.text, values), "the template")
                html = None
                if compiled.html is not None:
                    part = str(step.html_template)
                    html = run(_chunks(compiled.html, values), "the template")
            finally:
                if armed:
                    bounds.disarm()
        except Exception:  # undefined names, sandbox violations, filter errors, bounds
            try:
                self.env.handle_exception()  # re-raises with template file names and lines
            except Exception as located:
                exc = located
            error = self._render_error(exc, campaign, step, compiled, part)
            if isinstance(exc, bounds.TemplateTooSlow):
                self._too_slow[(campaign.name, step.index, step.variant)] = error
            raise error from None
        return Rendered(subject=subject, text=text, html=html)

    def _render_error(
        self, exc: Exception, campaign: Campaign, step: Step, compiled: _Compiled, part: str
    ) -> ConfigError:
        from jinja2 import UndefinedError
        from jinja2.sandbox import SecurityError

        from retain_cli.campaigns.template_bounds import TemplateTooBig, TemplateTooSlow

        line = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename in compiled.labels:
                line = tb.tb_lineno
                part = tb.tb_frame.f_code.co_filename
            tb = tb.tb_next
        where = compiled.labels.get(part, part)
        place = f"{where} line {line}" if line else where
        if where == "subject":
            place = "key 'subject'"
        if isinstance(exc, UndefinedError):
            detail = f"undefined: {_undefined_name(str(exc))}"
        elif isinstance(exc, SecurityError):
            detail = f"not allowed in a template: {exc}"
        elif isinstance(exc, TemplateTooBig | TemplateTooSlow):
            detail = str(exc)
        else:
            detail = f"{type(exc).__name__}: {exc}"
        return ConfigError(f"{self._where(campaign, step)}: {place}: {detail}")


def _chunks(template: Template, values: dict[str, Any]) -> Iterator[str]:
    """The template's output, as it comes (one namespace shared by the three templates:
    Template.render would copy it each time)."""
    return template.root_render_func(template.new_context(values, shared=True))


def _undefined_name(message: str) -> str:
    """Jinja's "'dict object' has no attribute 'frist_name'" -> "'frist_name' ..."."""
    match = re.search(r"^'([^']*)' has no attribute '([^']+)'", message)
    if match and match.group(1) == "None":
        return (
            f"{match.group(2)!r} of an empty value (this customer has no value there; "
            "guard it with {% if ... %} or | default(...))"
        )
    if match:
        return f"{match.group(2)!r} (no such field; check the spelling)"
    match = re.search(r"'([^']+)' is undefined", message)
    if match and match.group(1) == "coupon":
        return (
            "'coupon' (only a campaign with a coupon_pool has one: add coupon_pool: NAME to "
            "the campaign, see 'retain coupons')"
        )
    if match:
        return f"{match.group(1)!r} (no such variable; check the spelling)"
    return message
