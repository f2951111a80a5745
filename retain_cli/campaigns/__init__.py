"""Campaigns: from the campaign file to messages sent and what they earned.

- model: the campaign file as frozen dataclasses, and the text forms of its values (90d, 10%)
- config: reading and validating the YAML file into the model (errors name file, campaign, key)
- audience: who is in a campaign's audience, with consent
- planner: who is due for which campaign now, who is left out and why
- context: what a template sees (shop, customer, last order) and the money/date filters
- templating: the sandboxed Jinja2 environment and the Renderer
- message: the e-mail itself (headers, footer, unsubscribe link, MIME bytes)
- preview: the messages a campaign would send (``retain campaigns preview``)
- check: every template and segment checked (``retain campaigns check``)
- limits: which limits apply, quiet hours, the per-minute/per-day pacer
- dispatch: the engine, claim -> send -> mark in the ledger, retries
- send: a whole ``retain send`` run (lock, recover, plan, transport, message builder)
- resolve: settling ambiguous sends and unsubscribing by hand
- cron: the crontab line for a nightly run
- report: what each campaign earned against its holdout
"""
