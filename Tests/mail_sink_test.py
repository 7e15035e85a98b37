#!/usr/bin/env python3
"""Tests of scripts/mail_sink.py, the local mail sink: python3 Tests/mail_sink_test.py

Starts the sink on free ports (MAIL_SINK_SMTP_PORT=0, MAIL_SINK_HTTP_PORT=0; it prints the ports it took) and
sends to it with Python's smtplib:

  1. plain SMTP: a multipart/alternative message (UTF-8 subject, quoted-printable text part, base64 HTML part
     with a script and quotes in it) and an 8-bit text-only one; GET /api/messages has both, newest first,
     with their decoded parts, headers and envelope; the page lists the subjects, holds the HTML part only
     escaped in a sandboxed iframe's srcdoc, and is served with a script-free Content-Security-Policy; the
     raw message and the HTML part alone are served; MAIL_SINK_FILE has one JSON line per message;
     ?to= filters; DELETE /api/messages empties it; MAIL_SINK_KEEP bounds what is kept;
  2. MAIL_SINK_AUTH=true with a self-signed certificate (made with openssl in a temporary directory):
     STARTTLS is offered and AUTH is not before it; MAIL FROM without AUTH is refused (530); after
     STARTTLS (the certificate verified) AUTH PLAIN and LOGIN accept any credentials, and the message
     records tls=true and the user name; the same over implicit TLS (MAIL_SINK_SMTPS_PORT, smtplib.SMTP_SSL);
  3. SIGTERM stops the sink with status 0; without aiosmtpd the script says how to install it.

Needs the PyPI package aiosmtpd and openssl. Exits non-zero if a check fails; prints "N passed, N failed".
"""
import html as html_module
import json
import os
import queue
import re
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from email.message import EmailMessage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "mail_sink.py")

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print("ok    %s" % name, flush=True)
    else:
        failed += 1
        print("FAIL  %s%s" % (name, (": " + str(detail)) if detail != "" else ""), flush=True)
    return condition


class Sink:
    """The sink as a child process; its stdout read by a thread (so its log lines never block it)."""

    def __init__(self, **env):
        environment = dict(os.environ)
        for key in list(environment):
            if key.startswith("MAIL_SINK_"):
                del environment[key]
        environment.update({"MAIL_SINK_SMTP_PORT": "0", "MAIL_SINK_HTTP_PORT": "0"})
        environment.update({key: str(value) for key, value in env.items()})
        self.process = subprocess.Popen([sys.executable, SCRIPT, "--exit-with-parent"], env=environment,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()
        self.smtp_port = self.smtps_port = self.http_port = None
        deadline = time.time() + 15
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                self.stop()
                raise RuntimeError("the sink did not say ready: %r %r" % (self.output, "".join(self.stderr)))
            if line is None:
                raise RuntimeError("the sink exited (%s): %r %r" % (self.process.wait(), self.output, "".join(self.stderr)))
            if line.startswith("smtp port "):
                self.smtp_port = int(line.split()[2])
            elif line.startswith("smtps port "):
                self.smtps_port = int(line.split()[2])
            elif line.startswith("http port "):
                self.http_port = int(line.split()[2])
            elif line == "ready":
                break

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def request(self, path, method="GET"):
        """(status, headers, body bytes)"""
        try:
            with urllib.request.urlopen(urllib.request.Request(self.url(path), method=method), timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def messages(self, query=""):
        status, _, body = self.request("/api/messages" + query)
        assert status == 200, (status, body)
        return json.loads(body)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()
        return self.process.returncode


TEXT = "Hallo Ana,\n\nyour order Nr. 42 is confirmed — Grüße, äöü ß €.\nTotal: 12,50 €\n"
HTML = ('<html><body><h1 class="x">Order 42 confirmed</h1><p>Grüße &amp; "thanks" — <b>12,50 €</b></p>'
        '<script>window.parent.document.title = "pwned"</script><img src=x onerror="alert(1)"></body></html>')
SUBJECT = "Order 42 confirmed — Grüße ✓ <b>&</b>"


def alternative_message(subject=SUBJECT, to="ana@example.com"):
    message = EmailMessage()
    message["From"] = "SWN Shop <shop@swn.example>"
    message["To"] = "Ana Ñúñez <%s>" % to
    message["Subject"] = subject
    message.set_content(TEXT, charset="utf-8", cte="quoted-printable")
    message.add_alternative(HTML, subtype="html", charset="utf-8", cte="base64")
    return message


def test_plain(directory):
    jsonl = os.path.join(directory, "mail.jsonl")
    sink = Sink(MAIL_SINK_FILE=jsonl, MAIL_SINK_KEEP=3)
    try:
        with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10) as smtp:
            code, answer = smtp.ehlo("client.test")
            check("plain: EHLO answers 250", code == 250, (code, answer))
            check("plain: no STARTTLS offered without a certificate", not smtp.has_extn("starttls"), answer)
            check("plain: no AUTH offered by default", not smtp.has_extn("auth"), answer)
            refused = smtp.send_message(alternative_message(), to_addrs=["ana@example.com", "bcc@example.com"])
            check("plain: multipart/alternative accepted", refused == {}, refused)
            # An 8-bit, text-only, non-MIME message sent as bytes.
            raw = ("From: robot@swn.example\r\nTo: bob@example.com\r\nSubject: Text only\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                   "Straße 1\r\n.leading dot\r\n").encode("utf-8")
            smtp.sendmail("robot@swn.example", ["bob@example.com"], raw)

        messages = sink.messages()
        check("api: two messages", len(messages) == 2, [m.get("subject") for m in messages])
        if len(messages) == 2:
            newest, oldest = messages
            check("api: newest first", newest["subject"] == "Text only" and oldest["subject"] == SUBJECT,
                  [m["subject"] for m in messages])
            check("api: fields present", all(k in oldest for k in
                  ("id", "receivedAt", "from", "to", "subject", "text", "html", "headers")), sorted(oldest))
            check("api: receivedAt is ISO 8601 UTC",
                  re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", oldest["receivedAt"]), oldest["receivedAt"])
            check("api: from is the From header", oldest["from"] == "SWN Shop <shop@swn.example>", oldest["from"])
            check("api: to is the envelope recipients", oldest["to"] == ["ana@example.com", "bcc@example.com"], oldest["to"])
            check("api: subject decoded (UTF-8)", oldest["subject"] == SUBJECT, oldest["subject"])
            check("api: text part decoded (quoted-printable)", oldest["text"] == TEXT, repr(oldest["text"]))
            check("api: html part decoded (base64)", oldest["html"] is not None and oldest["html"].strip() == HTML,
                  repr(oldest["html"]))
            headers = {name.lower(): value for name, value in oldest["headers"]}
            check("api: headers decoded", headers.get("to") == "Ana Ñúñez <ana@example.com>"
                  and headers.get("subject") == SUBJECT, oldest["headers"])
            check("api: envelope recorded", oldest["smtp"]["mailFrom"] == "shop@swn.example"
                  and oldest["smtp"]["helo"] == "client.test" and oldest["smtp"]["tls"] is False
                  and oldest["smtp"]["authUser"] is None, oldest["smtp"])
            check("api: text-only message: text, no html",
                  newest["text"] == "Straße 1\n.leading dot\n" and newest["html"] is None, (newest["text"], newest["html"]))

            status, _, body = sink.request("/api/messages/%s" % oldest["id"])
            check("api: one message by id", status == 200 and json.loads(body)["id"] == oldest["id"], status)
            status, headers_, body = sink.request("/api/messages/%s/raw" % oldest["id"])
            check("api: raw message", status == 200 and headers_.get_content_type() == "message/rfc822"
                  and b"Content-Transfer-Encoding: base64" in body, (status, body[:200]))
            status, _, _ = sink.request("/api/messages/nope")
            check("api: unknown id is 404", status == 404, status)
            only_bob = sink.messages("?to=BOB@example.com")
            check("api: ?to= filters by recipient", [m["subject"] for m in only_bob] == ["Text only"], only_bob)

            status, headers_, body = sink.request("/")
            page = body.decode("utf-8")
            check("page: 200 text/html", status == 200 and headers_.get_content_type() == "text/html", status)
            check("page: lists the subjects (escaped)", "Order 42 confirmed — Grüße ✓ &lt;b&gt;&amp;&lt;/b&gt;" in page
                  and "Text only" in page, page[:300])
            check("page: newest first", page.index("Text only") < page.index("Order 42 confirmed"))
            check("page: lists from and to", "SWN Shop &lt;shop@swn.example&gt;" in page
                  and "ana@example.com, bcc@example.com" in page)
            check("page: shows the text part", "your order Nr. 42 is confirmed — Grüße, äöü ß €." in page)
            check("page: the mail's script never appears unescaped", "<script" not in page.lower()
                  and 'onerror="alert' not in page, re.findall(r"<script[^>]*>", page, re.I))
            iframes = re.findall(r"<iframe\b[^>]*>", page)
            check("page: the html part in one sandboxed iframe (no allow-* tokens)",
                  len(iframes) == 1 and ' sandbox=""' in iframes[0], iframes)
            srcdoc = re.search(r'srcdoc="([^"]*)"', iframes[0]).group(1) if iframes else ""
            check("page: srcdoc holds the escaped html part", html_module.unescape(srcdoc).strip() == HTML, srcdoc[:200])
            csp = headers_.get("Content-Security-Policy", "")
            check("page: CSP allows no script", "default-src 'none'" in csp and "script-src" not in csp, csp)

            status, headers_, body = sink.request("/messages/%s/html" % oldest["id"])
            check("html alone: served sandboxed", status == 200 and body.decode().strip() == HTML
                  and headers_.get("Content-Security-Policy", "").startswith("sandbox;"), (status, headers_))

        with open(jsonl, encoding="utf-8") as file:
            lines = [json.loads(line) for line in file if line.strip()]
        check("file: one JSON line per message", [m["subject"] for m in lines] == [SUBJECT, "Text only"],
              [m.get("subject") for m in lines])
        check("log: one line per message", sum(" received " in line for line in sink.output) == 2, sink.output)

        with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10) as smtp:
            for n in range(3):
                smtp.send_message(alternative_message(subject="keep %d" % n))
        check("keep: MAIL_SINK_KEEP=3 keeps the newest three",
              [m["subject"] for m in sink.messages()] == ["keep 2", "keep 1", "keep 0"],
              [m["subject"] for m in sink.messages()])

        status, _, _ = sink.request("/api/messages", method="DELETE")
        check("delete: 204", status == 204, status)
        check("delete: no messages left", sink.messages() == [], sink.messages())
        status, _, body = sink.request("/")
        check("page: empty after delete", status == 200 and b"No mail yet" in body)
    finally:
        code = sink.stop()
    check("plain: SIGTERM stops it with status 0", code == 0, (code, "".join(sink.stderr)))
    check("plain: nothing on stderr", "".join(sink.stderr).strip() == "", "".join(sink.stderr))


def test_tls_auth(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                           "-days", "1", "-subj", "/CN=localhost",
                           "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], capture_output=True, text=True)
    if not check("tls: openssl made a self-signed certificate", made.returncode == 0, made.stderr):
        return
    sink = Sink(MAIL_SINK_AUTH="true", MAIL_SINK_TLS_CERT=cert, MAIL_SINK_TLS_KEY=key, MAIL_SINK_SMTPS_PORT=0)
    context = ssl.create_default_context(cafile=cert)  # verifies the chain and the name (IP 127.0.0.1)
    try:
        with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10) as smtp:
            smtp.ehlo("client.test")
            check("tls: STARTTLS offered", smtp.has_extn("starttls"), smtp.esmtp_features)
            check("tls: AUTH not offered before STARTTLS", not smtp.has_extn("auth"), smtp.esmtp_features)
            code, answer = smtp.mail("shop@swn.example")
            check("auth: MAIL FROM without AUTH refused with 530", code == 530, (code, answer))

        with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10) as smtp:
            smtp.ehlo("client.test")
            code, answer = smtp.starttls(context=context)
            check("tls: STARTTLS succeeds, certificate verified", code == 220, (code, answer))
            smtp.ehlo("client.test")
            mechanisms = set(smtp.esmtp_features.get("auth", "").upper().split())
            check("auth: PLAIN and LOGIN offered after STARTTLS", {"PLAIN", "LOGIN"} <= mechanisms, mechanisms)
            smtp.user, smtp.password = "shop-user", "any password at all"
            code, answer = smtp.auth("PLAIN", smtp.auth_plain)
            check("auth: AUTH PLAIN accepts any credentials", code == 235, (code, answer))
            refused = smtp.send_message(alternative_message(subject="over TLS, PLAIN"))
            check("tls: message accepted", refused == {}, refused)

        with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10) as smtp:
            smtp.starttls(context=context)
            smtp.ehlo("client.test")  # RFC 3207: the session starts over after STARTTLS
            smtp.user, smtp.password = "login-user", "x"
            code, answer = smtp.auth("LOGIN", smtp.auth_login)
            check("auth: AUTH LOGIN accepts any credentials", code == 235, (code, answer))
            smtp.send_message(alternative_message(subject="over TLS, LOGIN"))

        with smtplib.SMTP("127.0.0.1", sink.smtp_port, timeout=10) as smtp:
            smtp.starttls(context=context)
            smtp.login("someone", "secret")  # smtplib's own choice of mechanism
            smtp.send_message(alternative_message(subject="over TLS, login()"))

        with smtplib.SMTP_SSL("127.0.0.1", sink.smtps_port, timeout=10, context=context) as smtp:
            smtp.ehlo("client.test")
            check("smtps: no STARTTLS inside TLS, AUTH offered", not smtp.has_extn("starttls")
                  and {"PLAIN", "LOGIN"} <= set(smtp.esmtp_features.get("auth", "").upper().split()), smtp.esmtp_features)
            smtp.login("smtps-user", "y")
            smtp.send_message(alternative_message(subject="over SMTPS"))

        messages = {m["subject"]: m for m in sink.messages()}
        check("api: the four TLS messages", set(messages) == {"over TLS, PLAIN", "over TLS, LOGIN", "over TLS, login()",
                                                              "over SMTPS"}, list(messages))
        smtps = messages.get("over SMTPS")
        if smtps:
            check("api: SMTPS message has tls=true and its user", smtps["smtp"]["tls"] is True
                  and smtps["smtp"]["authUser"] == "smtps-user", smtps["smtp"])
        plain = messages.get("over TLS, PLAIN")
        if plain:
            check("api: tls=true and the PLAIN user recorded", plain["smtp"]["tls"] is True
                  and plain["smtp"]["authUser"] == "shop-user", plain["smtp"])
            check("api: text and html parts over TLS", plain["text"] == TEXT and plain["html"].strip() == HTML)
        login = messages.get("over TLS, LOGIN")
        if login:
            check("api: the LOGIN user recorded", login["smtp"]["authUser"] == "login-user", login["smtp"])
        status, _, body = sink.request("/")
        check("page: lists the TLS messages", b"over TLS, PLAIN" in body and b"AUTH as shop-user" in body)
        check("log: TLS and AUTH in the log line",
              any("over TLS, PLAIN" in line and "TLS" in line and "AUTH shop-user" in line for line in sink.output),
              sink.output)
    finally:
        code = sink.stop()
    check("tls: SIGTERM stops it with status 0", code == 0, (code, "".join(sink.stderr)))


def test_missing_dependency():
    code = ("import runpy, sys; sys.modules['aiosmtpd'] = None; sys.argv = [%r]; "
            "runpy.run_path(%r, run_name='__main__')" % (SCRIPT, SCRIPT))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    check("missing aiosmtpd: exits non-zero with an install hint",
          result.returncode != 0 and "pip install aiosmtpd" in result.stderr, (result.returncode, result.stderr))


def main():
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        print("mail_sink_test: needs the PyPI package aiosmtpd: python3 -m pip install aiosmtpd", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    with tempfile.TemporaryDirectory(prefix="mail-sink-test-") as directory:
        for test in (lambda: test_plain(directory), lambda: test_tls_auth(directory), test_missing_dependency):
            try:
                test()
            except Exception:
                check("no exception", False, traceback.format_exc())
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
