"""The sender domain's SPF and DMARC records, for ``retain doctor`` (dnspython).

Mail providers (Gmail and Yahoo ask it of bulk senders since 2024) check that the domain in
the From address publishes an SPF record (which servers may send for it) and a DMARC record
(what to do with mail that fails). Without them a shop's messages go to spam or are refused.
The check reads the records; whether your provider's servers are the ones SPF names is for
the provider's own setup guide to say.
"""

from __future__ import annotations

from typing import Any

from retain_cli.trust.checks import FAIL, OK, SKIP, Check


def resolver(server: str | None, timeout: float) -> Any:
    """The system's resolver, or one asking only ``server`` (``HOST`` or ``HOST:PORT``)."""
    import dns.resolver

    if server is None:
        found = dns.resolver.Resolver()
    else:
        found = dns.resolver.Resolver(configure=False)
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        found.nameservers = [host]
        if port:
            found.port = int(port)
    found.lifetime = timeout
    found.timeout = timeout
    return found


def txt_records(ask: Any, name: str) -> tuple[list[str] | None, str | None]:
    """(the TXT strings at ``name``, None) or (None, why they could not be read); an empty
    list when the name has no TXT record."""
    import dns.exception
    import dns.resolver

    try:
        answer = ask.resolve(name, "TXT")
    except dns.resolver.NXDOMAIN:
        return None, f"{name} does not exist in DNS"
    except dns.resolver.NoAnswer:
        return [], None
    except dns.resolver.NoNameservers as exc:
        return None, f"no DNS server answered for {name} ({exc.msg})"
    except dns.exception.Timeout:
        return None, f"no answer about {name} within the time allowed"
    except dns.exception.DNSException as exc:
        return None, f"looking up {name} failed ({exc})"
    texts = []
    for record in answer:
        texts.append(b"".join(record.strings).decode("utf-8", "replace"))
    return texts, None


def domain_checks(sender: str, server: str | None, timeout: float) -> list[Check]:
    """The SPF and DMARC checks for the domain of ``sender`` (an address)."""
    from retain_cli.campaigns.placeholders import example_domain

    domain = sender.rpartition("@")[2].strip().lower()
    if not domain or example_domain(domain):
        reason = f"{domain or sender} is an example domain" if domain else "no sender address"
        return [Check("spf", SKIP, reason), Check("dmarc", SKIP, reason)]
    ask = resolver(server, timeout)
    checks = []
    texts, problem = txt_records(ask, domain)
    if texts is None:
        checks.append(Check("spf", FAIL, problem or "", "check the domain in sender.from"))
    else:
        spf = [t for t in texts if t.lower().startswith("v=spf1")]
        if not spf:
            checks.append(
                Check(
                    "spf",
                    FAIL,
                    f"{domain} has no SPF record: providers may treat its mail as spam",
                    f"add a TXT record to {domain} such as 'v=spf1 include:<your mail "
                    "provider's> ~all' (the provider's setup guide gives it)",
                )
            )
        elif len(spf) > 1:
            checks.append(
                Check(
                    "spf",
                    FAIL,
                    f"{domain} has {len(spf)} SPF records; receivers reject them all",
                    "merge them into one TXT record starting v=spf1",
                )
            )
        elif spf[0].replace(" ", "").lower().endswith("+all"):
            checks.append(
                Check(
                    "spf",
                    FAIL,
                    f"{spf[0]!r} lets any server send as {domain}",
                    "end the record with ~all or -all",
                )
            )
        else:
            checks.append(Check("spf", OK, spf[0]))
    name = f"_dmarc.{domain}"
    texts, problem = txt_records(ask, name)
    if problem is not None and texts is None and "does not exist" in problem:
        texts = []  # no _dmarc name at all: simply no record
    if texts is None:
        checks.append(Check("dmarc", FAIL, problem or "", "check the domain in sender.from"))
        return checks
    dmarc = [t for t in texts if t.replace(" ", "").lower().startswith("v=dmarc1")]
    if not dmarc:
        checks.append(
            Check(
                "dmarc",
                FAIL,
                f"{domain} has no DMARC record: Gmail and Yahoo ask senders for one",
                f"add a TXT record at {name} such as 'v=DMARC1; p=none; rua=mailto:dmarc@{domain}'",
            )
        )
    else:
        tags = dict(part.strip().split("=", 1) for part in dmarc[0].split(";") if "=" in part)
        policy = tags.get("p", "?").strip()
        checks.append(Check("dmarc", OK, f"policy p={policy}: {dmarc[0]}"))
    return checks
