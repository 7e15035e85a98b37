#!/usr/bin/env python3
"""A local mail sink: an SMTP server that accepts every message and shows what it received on a web page.

    pip install aiosmtpd                   # the one dependency (PyPI); everything else is the standard library
    python3 scripts/mail_sink.py           # SMTP on 127.0.0.1:1025, the mail at http://127.0.0.1:8025/
    SMTP_URL=smtp://127.0.0.1:1025 ...     # what the shop's notification-service is pointed at

Nothing is delivered anywhere: every message, whatever its recipients, is kept (the last MAIL_SINK_KEEP in
memory) and shown. It prints "smtp port N", "http port N" ("smtps port N" too when MAIL_SINK_SMTPS_PORT is
set), a line saying where to look, then "ready"; then one
line per message received. SIGTERM/SIGINT stop it cleanly (exit status 0).

Settings (environment; the command-line options of the same name override them):
  MAIL_SINK_SMTP_HOST / MAIL_SINK_SMTP_PORT   where SMTP listens (127.0.0.1, 1025; port 0 picks a free one)
  MAIL_SINK_HTTP_HOST / MAIL_SINK_HTTP_PORT   where the web page and API listen (127.0.0.1, 8025; 0 = free)
                                              (in a container: 0.0.0.0 for both)
  MAIL_SINK_KEEP        how many messages are kept in memory, the oldest dropped first (500)
  MAIL_SINK_FILE        if set, each message is also appended to this file as one JSON line (the API's form)
  MAIL_SINK_TLS_CERT    a PEM certificate (chain): STARTTLS is offered. None by default, none generated.
  MAIL_SINK_TLS_KEY     its private key (PEM), if not in MAIL_SINK_TLS_CERT
  MAIL_SINK_REQUIRE_TLS true: nothing but EHLO/STARTTLS/QUIT before STARTTLS (needs a certificate; false)
  MAIL_SINK_SMTPS_PORT  if set (and a certificate is given), also SMTP over TLS from the first byte (what an
                        smtps:// client expects; 465 by convention, 0 picks a free one), on MAIL_SINK_SMTP_HOST
  MAIL_SINK_AUTH        true: AUTH PLAIN and LOGIN are offered and required before MAIL FROM, and any user
                        name and password are accepted. With a certificate, AUTH is only offered after
                        STARTTLS (as real providers do); without one it is offered in the clear. (false)
  MAIL_SINK_HOSTNAME    the name in the greeting and EHLO answer (mail-sink)

So a client's STARTTLS and AUTH paths can be tested: a message records whether it came over TLS and which
user name authenticated ("smtp": {"tls", "authUser", ...}).

HTTP (http://127.0.0.1:8025):
  GET /                       the messages, newest first (time, from, to, subject); each opens to its
                              plain-text part and its HTML part (in a sandboxed iframe, no scripts), headers
  GET /messages/{id}/html     the HTML part alone, sandboxed (Content-Security-Policy: sandbox)
  GET /api/messages           JSON list, newest first: [{id, receivedAt (ISO 8601 UTC), from (the From header,
                              else the envelope sender), to [envelope recipients], subject, text, html
                              (null when the message has no such part), headers [[name, value], ...],
                              attachments [{filename, contentType, size}], size (bytes),
                              smtp {mailFrom, rcptTo, helo, peer, tls, authUser}}]
                              ?to=ADDRESS keeps the messages with that recipient (case-insensitive)
  GET /api/messages/{id}      one message (404 if unknown); .../raw the message as received (message/rfc822)
  DELETE /api/messages        forgets them all (204; MAIL_SINK_FILE is left as it is)
  DELETE /api/messages/{id}   forgets one (204, 404)
  GET /health                 200 "ok" (`mail_sink.py --health` asks it and exits 0 or 1: a container's health check)
"""
import argparse
import asyncio
import collections
import email
import email.policy
import email.utils
import html
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import urllib.parse
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from aiosmtpd.smtp import SMTP, AuthResult
except ImportError:
    sys.stderr.write(
        "mail_sink: the PyPI package aiosmtpd is not installed.\n"
        "  Install it with:  python3 -m pip install aiosmtpd   (or: pip install --user aiosmtpd)\n"
        "  then run again:   python3 scripts/mail_sink.py\n")
    sys.exit(2)

TRUE = {"1", "true", "yes", "on"}


def env_bool(name, default=False):
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value.strip().lower() in TRUE


def env_int(name, default):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        sys.exit("mail_sink: %s must be a number, not %r" % (name, value))


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- parsing ---------------------------------------------------------------------------------------------

def part_text(part):
    """A text part's content as str: transfer encoding (quoted-printable, base64) and charset decoded, and
    SMTP's CRLF line ends made \\n."""
    if part is None:
        return None
    text = part_content(part)
    return text.replace("\r\n", "\n")


def part_content(part):
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except Exception:  # an unknown charset, a broken encoding: decode what there is
        pass
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def header_value(message, name, value):
    """A header's value, RFC 2047 encoded words decoded; the raw value if it does not parse."""
    try:
        return str(message.policy.header_fetch_parse(name, value))
    except Exception:
        return " ".join(str(value).split())


def parse_message(data, mail_from, rcpt_tos):
    """The API's fields of a message (bytes as received)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    headers = [[name, header_value(message, name, value)] for name, value in message.raw_items()]

    def first(name):
        for key, value in headers:
            if key.lower() == name:
                return value
        return None

    text_part = html_part = None
    try:
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
    except Exception:
        pass
    if text_part is None and html_part is None and not message.is_multipart() \
            and message.get_content_maintype() == "text" and not message.is_attachment():
        text_part = message  # e.g. text/markdown, or a text part get_body did not take
    attachments = []
    for part in message.walk():
        if part.is_multipart() or part is text_part or part is html_part:
            continue
        payload = part.get_payload(decode=True) or b""
        attachments.append({"filename": part.get_filename(), "contentType": part.get_content_type(),
                            "size": len(payload)})
    return {
        "from": first("from") or mail_from or "",
        "to": list(rcpt_tos),
        "subject": first("subject") or "",
        "text": part_text(text_part),
        "html": part_text(html_part),
        "headers": headers,
        "attachments": attachments,
        "size": len(data),
    }


# --- the store --------------------------------------------------------------------------------------------

class Store:
    """The last `keep` messages (and their bytes as received), oldest first; thread-safe."""

    def __init__(self, keep, path=None):
        self.lock = threading.Lock()
        self.messages = collections.OrderedDict()  # id -> (message dict, raw bytes)
        self.keep = max(1, keep)
        self.path = path

    def add(self, message, raw):
        with self.lock:
            self.messages[message["id"]] = (message, raw)
            while len(self.messages) > self.keep:
                self.messages.popitem(last=False)
            if self.path:
                try:
                    with open(self.path, "a", encoding="utf-8") as file:
                        file.write(json.dumps(message, ensure_ascii=False) + "\n")
                except OSError as error:
                    print("mail_sink: could not append to %s: %s" % (self.path, error), file=sys.stderr, flush=True)

    def list(self, to=None):
        with self.lock:
            messages = [message for message, _ in reversed(self.messages.values())]
        if to:
            to = to.strip().lower()
            messages = [m for m in messages if any(to == address.lower() for address in m["to"])]
        return messages

    def get(self, message_id):
        with self.lock:
            return self.messages.get(message_id)

    def delete(self, message_id):
        with self.lock:
            return self.messages.pop(message_id, None) is not None

    def clear(self):
        with self.lock:
            self.messages.clear()


# --- SMTP -------------------------------------------------------------------------------------------------

class SinkHandler:
    def __init__(self, store, reply_delay=0.0, rcpt_delay=0.0, rcpt_delay_count=0):
        self.reply_delay = reply_delay
        self.rcpt_delay = rcpt_delay
        self.rcpt_delays_left = rcpt_delay_count
        self.store = store

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        if self.rcpt_delay > 0 and self.rcpt_delays_left > 0:
            # Answered late: a window in which a sender that dies has surely not handed its message over.
            self.rcpt_delays_left -= 1
            print("mail_sink: RCPT TO:<%s> answered in %.1f s (%d more delayed)" % (address, self.rcpt_delay, self.rcpt_delays_left), flush=True)
            await asyncio.sleep(self.rcpt_delay)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        message_id = uuid.uuid4().hex
        try:
            fields = parse_message(raw, envelope.mail_from, envelope.rcpt_tos)
        except Exception as error:  # never refuse a message because it does not parse: keep it raw
            fields = {"from": envelope.mail_from or "", "to": list(envelope.rcpt_tos), "subject": "",
                      "text": raw.decode("utf-8", "replace"), "html": None, "headers": [], "attachments": [],
                      "size": len(raw), "parseError": str(error)}
        login = getattr(session, "login_data", None)
        if isinstance(login, bytes):
            login = login.decode("utf-8", "replace")
        peer = session.peer
        message = {
            "id": message_id,
            "receivedAt": now_iso(),
            **fields,
            "smtp": {
                "mailFrom": envelope.mail_from,
                "rcptTo": list(envelope.rcpt_tos),
                "helo": session.host_name,
                "peer": "%s:%s" % (peer[0], peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 else str(peer),
                "tls": session.ssl is not None or getattr(server, "implicit_tls", False),
                "authUser": login if session.authenticated else None,
            },
        }
        self.store.add(message, raw)
        print("mail_sink: %s received %s from %s to %s subject %s (%d bytes%s%s)" % (
            message["receivedAt"], message_id, message["from"], ", ".join(message["to"]),
            json.dumps(message["subject"], ensure_ascii=False), len(raw),
            ", TLS" if message["smtp"]["tls"] else "",
            ", AUTH " + message["smtp"]["authUser"] if message["smtp"]["authUser"] else ""), flush=True)
        if self.reply_delay > 0:
            # Kept already, acknowledged late: a window in which a sender that dies cannot know it was sent.
            await asyncio.sleep(self.reply_delay)
        return "250 2.0.0 OK queued as %s" % message_id


def accept_any_credentials(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, auth_data=auth_data)


# --- HTTP -------------------------------------------------------------------------------------------------

PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: http: https:; frame-src 'self' about:; "
            "child-src 'self' about:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# The HTML part alone: a sandboxed document of its own (opaque origin, no scripts, no forms).
MAIL_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: http: https:; "
            "font-src data: http: https:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1rem; color: #222; }
h1 { font-size: 1.3rem; margin: 0 0 .25rem; } .meta { color: #666; margin-bottom: 1rem; }
details { border: 1px solid #ddd; border-radius: 6px; margin: .4rem 0; }
summary { cursor: pointer; padding: .5rem .75rem; display: grid; gap: .75rem;
          grid-template-columns: 10.5rem minmax(0, 1fr) minmax(0, 1fr) minmax(0, 2fr); align-items: baseline; }
@media (max-width: 700px) { summary { grid-template-columns: minmax(0, 1fr); gap: .1rem; } }
summary span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
details[open] summary { background: #f5f5f5; border-bottom: 1px solid #ddd; }
.subject { font-weight: 600; } .body { padding: .5rem .75rem 1rem; }
h2 { font-size: 1rem; margin: 1rem 0 .35rem; }
pre { white-space: pre-wrap; word-break: break-word; background: #fafafa; border: 1px solid #eee;
      padding: .5rem; margin: 0; font: 13px/1.4 ui-monospace, monospace; }
iframe { width: 100%; height: 480px; border: 1px solid #ccc; resize: vertical; background: #fff; }
table { border-collapse: collapse; } td { padding: .1rem .75rem .1rem 0; vertical-align: top; }
td:first-child { color: #666; white-space: nowrap; } .none { color: #888; font-style: italic; }
a { color: #0645ad; }
"""


def local_time(iso):
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def render_page(messages, smtp_address, http_host):
    e = lambda value: html.escape("" if value is None else str(value), quote=True)  # noqa: E731
    rows = []
    for m in messages:
        smtp = m.get("smtp", {})
        text = ('<pre>%s</pre>' % e(m["text"])) if m.get("text") is not None else '<p class="none">no plain-text part</p>'
        if m.get("html") is not None:
            # srcdoc carries the HTML as an attribute value: escaped with quote=True it cannot end the attribute
            # or the element. sandbox (no allow-* tokens): an opaque origin, no scripts, no forms, no top
            # navigation; and the page's CSP (no scripts) is inherited by the srcdoc document as well.
            html_part = ('<iframe sandbox="" referrerpolicy="no-referrer" title="HTML part of %s" srcdoc="%s"></iframe>'
                         '<p><a href="/messages/%s/html" target="_blank" rel="noopener noreferrer">open the HTML part alone</a></p>'
                         % (e(m["subject"]), e(m["html"]), e(m["id"])))
        else:
            html_part = '<p class="none">no HTML part</p>'
        attachments = "".join("<li>%s (%s, %d bytes)</li>" % (e(a["filename"] or "unnamed"), e(a["contentType"]), a["size"])
                              for a in m.get("attachments", []))
        headers = "".join("<tr><td>%s</td><td>%s</td></tr>" % (e(name), e(value)) for name, value in m.get("headers", []))
        rows.append(
            '<details id="m-{id}"><summary><span>{time}</span><span title="{frm}">{frm}</span>'
            '<span title="{to}">{to}</span><span class="subject" title="{subject}">{subject}</span></summary>'
            '<div class="body"><table>'
            '<tr><td>Received</td><td>{received}</td></tr>'
            '<tr><td>Envelope</td><td>MAIL FROM &lt;{mail_from}&gt; · RCPT TO {rcpt} · HELO {helo} · {peer}</td></tr>'
            '<tr><td>Session</td><td>{tls} · {auth}</td></tr>'
            '</table>'
            '<h2>Plain text</h2>{text}<h2>HTML</h2>{html_part}{attachments}'
            '<details><summary>Headers</summary><div class="body"><table>{headers}</table></div></details>'
            '<p><a href="/api/messages/{id}/raw">raw message</a> · <a href="/api/messages/{id}">JSON</a></p>'
            '</div></details>'.format(
                id=e(m["id"]), time=e(local_time(m["receivedAt"])), frm=e(m["from"]), to=e(", ".join(m["to"])),
                subject=e(m["subject"] or "(no subject)"), received=e(m["receivedAt"]),
                mail_from=e(smtp.get("mailFrom")), rcpt=e(", ".join("<%s>" % r for r in smtp.get("rcptTo", []))),
                helo=e(smtp.get("helo")), peer=e(smtp.get("peer")),
                tls="STARTTLS" if smtp.get("tls") else "no TLS",
                auth=("AUTH as " + e(smtp["authUser"])) if smtp.get("authUser") else "no AUTH",
                text=text, html_part=html_part,
                attachments=("<h2>Attachments</h2><ul>%s</ul>" % attachments) if attachments else "",
                headers=headers))
    body = "".join(rows) or '<p class="none">No mail yet. Send some to SMTP %s.</p>' % e(smtp_address)
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>Mail sink (%d)</title><style>%s</style></head><body>'
            '<h1>Mail sink</h1><p class="meta">%d message%s, newest first · SMTP %s · <a href="/">refresh</a> · '
            '<a href="/api/messages">JSON</a> · clear: <code>curl -X DELETE http://%s/api/messages</code></p>%s'
            '</body></html>' % (len(messages), STYLE, len(messages), "" if len(messages) == 1 else "s",
                                e(smtp_address), e(http_host), body))


def http_handler(store, smtp_address, verbose):
    class Handler(BaseHTTPRequestHandler):
        server_version = "mail-sink"
        protocol_version = "HTTP/1.1"

        def reply(self, status, body=b"", content_type="application/json; charset=utf-8", headers=None):
            if isinstance(body, str):
                body = body.encode("utf-8")
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if status != 204 and self.command != "HEAD":
                self.wfile.write(body)

        def json(self, status, value):
            self.reply(status, json.dumps(value, ensure_ascii=False))

        def route(self):
            url = urllib.parse.urlsplit(self.path)
            parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
            return parts, urllib.parse.parse_qs(url.query)

        def do_GET(self):
            parts, query = self.route()
            if parts == []:
                host = self.headers.get("Host") or "%s:%s" % self.server.server_address[:2]
                page = render_page(store.list((query.get("to") or [None])[0]), smtp_address, host)
                self.reply(200, page, "text/html; charset=utf-8", {"Content-Security-Policy": PAGE_CSP})
            elif parts == ["favicon.ico"]:
                self.reply(204)
            elif parts == ["health"]:
                self.reply(200, "ok", "text/plain; charset=utf-8")
            elif parts == ["api", "messages"]:
                self.json(200, store.list((query.get("to") or [None])[0]))
            elif len(parts) in (3, 4) and parts[:2] == ["api", "messages"] and (len(parts) == 3 or parts[3] == "raw"):
                found = store.get(parts[2])
                if found is None:
                    self.json(404, {"error": "no such message"})
                elif len(parts) == 3:
                    self.json(200, found[0])
                else:
                    self.reply(200, found[1], "message/rfc822",
                               {"Content-Disposition": 'attachment; filename="%s.eml"' % found[0]["id"]})
            elif len(parts) == 3 and parts[0] == "messages" and parts[2] == "html":
                found = store.get(parts[1])
                if found is None or found[0].get("html") is None:
                    self.reply(404, "no such message or no HTML part", "text/plain; charset=utf-8")
                else:
                    self.reply(200, found[0]["html"], "text/html; charset=utf-8", {"Content-Security-Policy": MAIL_CSP})
            else:
                self.json(404, {"error": "not found"})

        do_HEAD = do_GET

        def do_DELETE(self):
            parts, _ = self.route()
            if parts == ["api", "messages"]:
                store.clear()
                self.reply(204)
            elif len(parts) == 3 and parts[:2] == ["api", "messages"]:
                self.reply(204) if store.delete(parts[2]) else self.json(404, {"error": "no such message"})
            else:
                self.json(404, {"error": "not found"})

        def log_message(self, format, *args):
            if verbose:
                sys.stderr.write("mail_sink: http %s\n" % (format % args))

    return Handler


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HTTPServer6(HTTPServer):
    address_family = socket.AF_INET6


# --- main -------------------------------------------------------------------------------------------------

def tls_context(cert, key):
    if not cert:
        if key:
            sys.exit("mail_sink: MAIL_SINK_TLS_KEY is set but MAIL_SINK_TLS_CERT is not")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as error:
        sys.exit("mail_sink: cannot load the TLS certificate %s%s: %s" % (cert, " / key " + key if key else "", error))
    return context


async def serve(args):
    store = Store(args.keep, args.file)
    context = tls_context(args.tls_cert, args.tls_key)
    if args.require_tls and context is None:
        sys.exit("mail_sink: MAIL_SINK_REQUIRE_TLS needs MAIL_SINK_TLS_CERT")
    smtp_options = dict(hostname=args.hostname, ident="mail-sink (aiosmtpd)", enable_SMTPUTF8=True,
                        decode_data=False, tls_context=context, require_starttls=bool(args.require_tls))
    if args.auth:
        smtp_options.update(auth_required=True, auth_require_tls=context is not None,
                            authenticator=accept_any_credentials)
    if args.smtps_port is not None and context is None:
        sys.exit("mail_sink: MAIL_SINK_SMTPS_PORT needs MAIL_SINK_TLS_CERT")
    handler = SinkHandler(store, reply_delay=args.reply_delay_ms / 1000.0, rcpt_delay=args.rcpt_delay_ms / 1000.0,
                          rcpt_delay_count=args.rcpt_delay_count)
    loop = asyncio.get_running_loop()
    try:
        smtp_server = await loop.create_server(lambda: SMTP(handler, **smtp_options),
                                               host=args.smtp_host, port=args.smtp_port)
    except OSError as error:
        sys.exit("mail_sink: cannot listen for SMTP on %s:%s: %s" % (args.smtp_host, args.smtp_port, error))
    smtp_port = smtp_server.sockets[0].getsockname()[1]
    servers = [smtp_server]
    smtps_port = None
    if args.smtps_port is not None:
        # TLS from the first byte: no STARTTLS to offer, and the connection counts as TLS for AUTH.
        smtps_options = dict(smtp_options, tls_context=None, require_starttls=False)
        if args.auth:
            smtps_options["auth_require_tls"] = False

        def smtps_protocol():
            protocol = SMTP(handler, **smtps_options)
            protocol.implicit_tls = True
            return protocol
        try:
            smtps_server = await loop.create_server(smtps_protocol, host=args.smtp_host, port=args.smtps_port,
                                                    ssl=context)
        except OSError as error:
            smtp_server.close()
            sys.exit("mail_sink: cannot listen for SMTPS on %s:%s: %s" % (args.smtp_host, args.smtps_port, error))
        smtps_port = smtps_server.sockets[0].getsockname()[1]
        servers.append(smtps_server)
    smtp_address = "%s:%d" % (args.smtp_host, smtp_port)
    server_class = HTTPServer6 if ":" in args.http_host else HTTPServer
    try:
        http_server = server_class((args.http_host, args.http_port), http_handler(store, smtp_address, args.verbose))
    except OSError as error:
        for server in servers:
            server.close()
        sys.exit("mail_sink: cannot listen for HTTP on %s:%s: %s" % (args.http_host, args.http_port, error))
    http_port = http_server.server_address[1]
    http_thread = threading.Thread(target=http_server.serve_forever, name="http", daemon=True)
    http_thread.start()

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    features = [name for name, on in (("STARTTLS", context), ("STARTTLS required", args.require_tls),
                                      ("AUTH required, any credentials", args.auth)) if on]
    web_host = "localhost" if args.http_host in ("127.0.0.1", "0.0.0.0", "::", "::1") else args.http_host
    print("smtp port %d" % smtp_port, flush=True)
    if smtps_port is not None:
        print("smtps port %d" % smtps_port, flush=True)
    print("http port %d" % http_port, flush=True)
    print("mail_sink: SMTP on %s%s%s · read the mail at http://%s:%d/ (API /api/messages)%s" % (
        smtp_address, " (%s)" % ", ".join(features) if features else "",
        " · SMTPS on %s:%d" % (args.smtp_host, smtps_port) if smtps_port is not None else "", web_host, http_port,
        " · also appended to " + args.file if args.file else ""), flush=True)
    print("ready", flush=True)

    async def watch_parent(parent):
        while os.getppid() == parent:
            await asyncio.sleep(0.5)
        stop.set()

    watcher = loop.create_task(watch_parent(os.getppid())) if args.exit_with_parent else None
    await stop.wait()
    if watcher:
        watcher.cancel()
    for server in servers:
        server.close()
    for server in servers:
        try:
            await asyncio.wait_for(server.wait_closed(), 2)
        except asyncio.TimeoutError:
            pass
    http_server.shutdown()
    http_server.server_close()
    print("mail_sink: stopped", flush=True)


def main():
    parser = argparse.ArgumentParser(description="A local SMTP mail sink with a web page (see the module's docstring).")
    parser.add_argument("--smtp-host", default=os.environ.get("MAIL_SINK_SMTP_HOST") or "127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=env_int("MAIL_SINK_SMTP_PORT", 1025))
    parser.add_argument("--smtps-port", type=int, default=env_int("MAIL_SINK_SMTPS_PORT", None))
    parser.add_argument("--http-host", default=os.environ.get("MAIL_SINK_HTTP_HOST") or "127.0.0.1")
    parser.add_argument("--http-port", type=int, default=env_int("MAIL_SINK_HTTP_PORT", 8025))
    parser.add_argument("--keep", type=int, default=env_int("MAIL_SINK_KEEP", 500))
    parser.add_argument("--file", default=os.environ.get("MAIL_SINK_FILE") or None)
    parser.add_argument("--tls-cert", default=os.environ.get("MAIL_SINK_TLS_CERT") or None)
    parser.add_argument("--tls-key", default=os.environ.get("MAIL_SINK_TLS_KEY") or None)
    parser.add_argument("--require-tls", action=argparse.BooleanOptionalAction, default=env_bool("MAIL_SINK_REQUIRE_TLS"))
    parser.add_argument("--auth", action=argparse.BooleanOptionalAction, default=env_bool("MAIL_SINK_AUTH"))
    parser.add_argument("--hostname", default=os.environ.get("MAIL_SINK_HOSTNAME") or "mail-sink")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the process that started it ends (for tests: a crashed test leaves no sink)")
    parser.add_argument("--reply-delay-ms", type=int, default=env_int("MAIL_SINK_REPLY_DELAY_MS", 0),
                        help="keep each message, then wait this long before acknowledging it (crash tests)")
    parser.add_argument("--rcpt-delay-ms", type=int, default=env_int("MAIL_SINK_RCPT_DELAY_MS", 0),
                        help="answer RCPT TO this late (a test's window to kill a sender before its message is handed over)")
    parser.add_argument("--rcpt-delay-count", type=int, default=env_int("MAIL_SINK_RCPT_DELAY_COUNT", 1_000_000_000),
                        help="delay only the first N RCPT TO commands (default: all)")
    parser.add_argument("--verbose", action="store_true", help="log HTTP requests and aiosmtpd's own messages")
    parser.add_argument("--health", action="store_true",
                        help="only ask a running sink's GET /health on 127.0.0.1:--http-port; exit 0 when it answers 200 "
                             "(a container's health check: one word per argument, which every engine passes as it is)")
    args = parser.parse_args()
    if args.health:
        import http.client
        try:
            connection = http.client.HTTPConnection("127.0.0.1", args.http_port, timeout=4)
            connection.request("GET", "/health")
            sys.exit(0 if connection.getresponse().status == 200 else 1)
        except OSError as error:
            sys.exit("mail_sink: no answer on 127.0.0.1:%d: %s" % (args.http_port, error))
    # aiosmtpd warns on every connection about auth settings we chose on purpose (AUTH in the clear).
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr,
                        format="mail_sink: %(name)s %(levelname)s %(message)s")
    # A parent may have started it with these blocked (a test runner's threads block signals).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
