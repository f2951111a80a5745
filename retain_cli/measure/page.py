"""The HTML report's page: one Jinja2 template (autoescaped), its styles inline."""

from __future__ import annotations

from typing import Any

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>retain report, {{ as_of[:10] }}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2933; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom:
  1px solid #d9e2ec; padding-bottom: .2rem; } h3 { margin-bottom: .3rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e4e7eb; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f5f7fa; }
.muted { color: #616e7c; } .warn { color: #b42318; font-weight: 600; }
.status-reached, .status-on-track, .verdict-better { color: #1769aa; font-weight: 600; }
.status-off-track, .status-missed, .verdict-worse { color: #c2410c; font-weight: 600; }
svg { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
</style>
</head>
<body>
<h1>retain report</h1>
<p class="muted">As of {{ as_of }} (UTC); money in {{ currency or "the orders' currency" }}.
Made {{ generated }}.</p>

<h2 id="kpis">KPIs, {{ kpis.label }}</h2>
{% if kpis.previous %}<p class="muted">Previous: {{ kpis.previous }}.</p>{% endif %}
<table>
<thead><tr><th>metric</th><th>value</th>{% if kpis.previous %}<th>previous</th><th>change</th>{% endif %}</tr></thead>
<tbody>
{% for row in kpis.rows %}<tr><td>{{ row.metric }}</td><td>{{ row.value }}</td>{% if kpis.previous %}<td>{{ row.previous }}</td><td>{{ row.change }}</td>{% endif %}</tr>
{% endfor %}</tbody>
</table>

<h2 id="cohorts">Cohorts</h2>
<p class="muted">Customers grouped by the month of their first order (size in brackets);
each cell is the share of the cohort that ordered 0, 1, 2 ... months later.</p>
{{ cohorts }}

<h2 id="segments">Segments</h2>
<p class="muted">Lifecycle segments as of {{ segments.to }} ({{ "{:,}".format(segments.customers) }} customers).
{{ segments.note }}</p>
{{ segments.chart }}
<h3>Moves from {{ segments.from }} (rows) to {{ segments.to }} (columns)</h3>
<table>
<thead><tr><th>from \\ to</th>{% for name in segments.targets %}<th>{{ name }}</th>{% endfor %}</tr></thead>
<tbody>
{% for name in segments.sources %}<tr><td>{{ name }}</td>{% for n in segments.moves[loop.index0] %}<td>{{ "{:,}".format(n) if n else "" }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>

{% macro td(cell) %}<td{% if cell.check %} data-check="{{ cell.check }}" data-value="{{ cell.value | tojson | forceescape }}"{% endif %}{% if cell.check and cell.check.endswith("_verdict") %} class="verdict-{{ cell.text | replace(" ", "-") }}"{% endif %}>{{ cell.text }}</td>{% endmacro %}
<h2 id="campaigns">Campaigns</h2>
<p class="muted">Recipients against the held-out customers over the {{ window_days }} days
after the message; dots are the differences, lines their 95% confidence intervals (conversion:
Newcombe's score interval; revenue per customer: Welch's t). A verdict needs a finished
window and 30 customers in each group.</p>
{% if campaigns.cards %}
{% if campaigns.conversion %}<h3>Conversion, recipients minus holdout (percentage points)</h3>
{{ campaigns.conversion }}{% endif %}
{% if campaigns.revenue %}<h3>Revenue per customer, recipients minus holdout</h3>
{{ campaigns.revenue }}{% endif %}
{% for card in campaigns.cards %}
<h3>{{ card.title }}</h3>
<table class="campaign">
<thead><tr><th></th><th>recipients</th><th>holdout</th><th>difference (95% CI)</th></tr></thead>
<tbody>
{% for cells in card.cells %}<tr>{% for cell in cells %}{{ td(cell) }}{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% for line in card.sentences %}<p{% if line.startswith("WARNING") %} class="warn"{% endif %}>{{ line }}</p>
{% endfor %}
{% if card.variants %}
<h4>Variants side by side</h4>
<table class="variants">
<thead><tr><th></th>{% for name in card.variants.names %}<th>{{ name }}</th>{% endfor %}<th>holdout</th></tr></thead>
<tbody>
{% for cells in card.variants.rows %}<tr>{% for cell in cells %}{{ td(cell) }}{% endfor %}</tr>
{% endfor %}</tbody>
</table>
<table class="variants">
<thead><tr><th>difference</th><th>conversion (95% CI)</th><th>verdict</th><th>revenue per customer (95% CI)</th><th>verdict</th></tr></thead>
<tbody>
{% for cells in card.variants.differences %}<tr>{% for cell in cells %}{{ td(cell) }}{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% for line in card.variants.sentences %}<p{% if line.startswith("WARNING") %} class="warn"{% endif %}>{{ line }}</p>
{% endfor %}
{% endif %}
{% endfor %}
{% else %}<p>Nothing sent yet.</p>{% endif %}
{% for note in campaign_notes %}<p class="muted">Note: {{ note }}</p>{% endfor %}

<h2 id="program">Program holdout</h2>
{% if program.figures %}
<p class="muted">Was the whole thing worth it? The customers kept out of every marketing
campaign against everyone else, over the same days; dots are the differences, lines their 95%
confidence intervals (rates: Newcombe's score interval; per customer: Welch's t).</p>
<h3>{{ program.title }}</h3>
{{ program.chart }}
<table class="program">
<thead><tr><th></th><th>marketing</th><th>held out</th><th>difference (95% CI)</th><th>verdict</th></tr></thead>
<tbody>
<tr><td>customers</td><td>{{ "{:,}".format(program.customers[0]) }}</td><td>{{ "{:,}".format(program.customers[1]) }}</td><td></td><td></td></tr>
{% for cells in program.figures %}<tr>{% for cell in cells %}<td{% if cell.check %} data-program="{{ cell.check }}" data-value="{{ cell.value | tojson | forceescape }}"{% endif %}{% if cell.check and cell.check.endswith("|verdict") %} class="verdict-{{ cell.text | replace(" ", "-") }}"{% endif %}>{{ cell.text }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% for line in program.sentences %}<p{% if line.startswith("WARNING") %} class="warn"{% endif %}>{{ line }}</p>
{% endfor %}
{% else %}<p>{{ program.missing }}.</p>{% endif %}

<h2 id="goals">Goals</h2>
{% if goals %}
<table>
<thead><tr><th>metric</th><th>start</th><th>now</th><th>on track at</th><th>target</th><th>by</th><th>progress</th><th>status</th></tr></thead>
<tbody>
{% for g in goals %}<tr><td>{{ g.metric }} ({{ g.change }})</td><td>{{ g.start_text }}</td><td>{{ g.now_text }}</td><td>{{ g.expected_text }}</td><td>{{ g.target_text }}</td><td>{{ g.by }}</td><td>{{ g.bar }}</td><td class="status-{{ g.status | replace(' ', '-') }}">{{ g.status }}</td></tr>
{% endfor %}</tbody>
</table>
<p class="muted">On track: at least as far from the start towards the target as the share of
the time gone (a straight line from the start to the target).</p>
{% else %}<p>No goals yet: <code>retain goals set retention_rate +5pp --by DATE</code>.</p>{% endif %}
</body>
</html>
"""


def render_page(context: dict[str, Any]) -> str:
    from jinja2 import Environment

    environment = Environment(autoescape=True, trim_blocks=False)
    return environment.from_string(PAGE).render(**context)
