"""A tiny DNS server on 127.0.0.1 for the doctor's SPF and DMARC checks: answers TXT
questions from a dict, NXDOMAIN for names it does not know (dnspython builds the replies)."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsServer:
    """``with DnsServer({"shop.de": ["v=spf1 -all"]}) as server: ... server.address``."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = {name.lower().rstrip("."): texts for name, texts in records.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.questions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            self.questions.append(name)
            if name not in self.records:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT and self.records[name]:
                quoted = ['"' + text.replace('"', '\\"') + '"' for text in self.records[name]]
                reply.answer.append(dns.rrset.from_text(question.name, 300, "IN", "TXT", *quoted))
            self.sock.sendto(reply.to_wire(), peer)

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()
