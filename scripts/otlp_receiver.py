#!/usr/bin/env python3
"""A test receiver for OTLP/HTTP traces: collects the spans the services export, for the tests to inspect.

    python3 scripts/otlp_receiver.py --port 4318        # prints "ready" once listening; SIGTERM/SIGINT stop it
    python3 scripts/otlp_receiver.py --port 0           # any free port: prints "port N", then "ready"

It also stops by itself when the process that started it ends (so a crashed test leaves no receiver behind).

Point a process at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:<port>.

  POST /v1/traces   an OTLP ExportTraceServiceRequest, Content-Type application/x-protobuf (or application/json,
                    OTLP's JSON encoding with hex ids), optionally Content-Encoding gzip. Answers 200 with an empty
                    ExportTraceServiceResponse in the request's encoding; 400 when the body does not decode.
  POST /v1/metrics, /v1/logs   accepted and dropped (200, empty response), so an exporter of those does not fail.
  GET /spans        every span received so far, in arrival order, as a JSON list of
                      {traceId, spanId, parentSpanId ("" for a root), name, kind ("SERVER", "CLIENT", "INTERNAL",
                       "PRODUCER", "CONSUMER" or "UNSPECIFIED"), serviceName (resource attribute service.name, "" if
                       none), startTimeUnixNano, endTimeUnixNano (integers), attributes {key: value},
                       status {code: "UNSET" | "OK" | "ERROR", message}, resourceAttributes {key: value}, scopeName,
                       events [{name, timeUnixNano, attributes}], links [{traceId, spanId, attributes}]}
                    ids are lowercase hex; a span sent twice (an exporter's retry) is kept once.
                    Query parameters filter: ?traceId=…&serviceName=…&name=…
  DELETE /spans     forgets them all (204).
  GET /health       200 "ok".

Needs the PyPI package opentelemetry-proto (which brings protobuf).
"""
import argparse
import base64
import gzip
import json
import os
import re
import signal
import sys
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

MAX_BODY = 64 * 1024 * 1024
KINDS = {value: name[len("SPAN_KIND_"):] for name, value in trace_pb2.Span.SpanKind.items()}
STATUS_CODES = {value: name[len("STATUS_CODE_"):] for name, value in trace_pb2.Status.StatusCode.items()}
ID_FIELDS = {"traceId", "spanId", "parentSpanId"}
RESPONSES = {
    "/v1/traces": trace_service_pb2.ExportTraceServiceResponse,
    "/v1/metrics": metrics_service_pb2.ExportMetricsServiceResponse,
    "/v1/logs": logs_service_pb2.ExportLogsServiceResponse,
}


def any_value(value):
    """An OTLP AnyValue as a plain JSON value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


def flatten(request):
    """ExportTraceServiceRequest → the flat span dicts of GET /spans."""
    spans = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        service = resource.get("service.name") or ""
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append({
                    "traceId": span.trace_id.hex(),
                    "spanId": span.span_id.hex(),
                    "parentSpanId": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "serviceName": service,
                    "startTimeUnixNano": span.start_time_unix_nano,
                    "endTimeUnixNano": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "status": {"code": STATUS_CODES.get(span.status.code, str(span.status.code)), "message": span.status.message},
                    "resourceAttributes": resource,
                    "scopeName": scope_spans.scope.name,
                    "events": [{"name": e.name, "timeUnixNano": e.time_unix_nano, "attributes": attributes(e.attributes)}
                               for e in span.events],
                    "links": [{"traceId": link.trace_id.hex(), "spanId": link.span_id.hex(), "attributes": attributes(link.attributes)}
                              for link in span.links],
                })
    return spans


def hex_ids_to_base64(node):
    """OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping of bytes wants base64."""
    if isinstance(node, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ID_FIELDS and isinstance(v, str) else hex_ids_to_base64(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [hex_ids_to_base64(v) for v in node]
    return node


def decode_traces(body, content_type):
    request = trace_service_pb2.ExportTraceServiceRequest()
    if content_type == "application/json":
        json_format.ParseDict(hex_ids_to_base64(json.loads(body)), request, ignore_unknown_fields=True)
    else:
        request.ParseFromString(body)
    return request


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.spans, self.seen = [], set()

    def add(self, spans):
        with self.lock:
            for span in spans:
                key = (span["traceId"], span["spanId"])
                if key not in self.seen:
                    self.seen.add(key)
                    self.spans.append(span)

    def list(self, filters):
        with self.lock:
            return [s for s in self.spans if all(s.get(k) == v for k, v in filters.items())]

    def clear(self):
        with self.lock:
            self.spans, self.seen = [], set()


def handler(store, verbose):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status, body=b"", content_type="application/json"):
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 204:
                self.wfile.write(body)

        def do_POST(self):
            path = re.sub("/+", "/", urllib.parse.urlsplit(self.path).path)  # an endpoint given with a trailing slash
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.reply(413, b'{"message":"body too large"}')
                self.close_connection = True
                return
            body = self.rfile.read(length)
            if path not in RESPONSES:
                self.reply(404, b'{"message":"unknown path"}')
                return
            content_type = (self.headers.get("Content-Type") or "application/x-protobuf").split(";")[0].strip().lower()
            try:
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                if path == "/v1/traces":
                    spans = flatten(decode_traces(body, content_type))
                    store.add(spans)
                    if verbose:
                        for s in spans:
                            print("span %s %s %s/%s parent=%s" % (s["serviceName"], s["name"], s["traceId"], s["spanId"], s["parentSpanId"] or "-"),
                                  file=sys.stderr, flush=True)
            except Exception as error:  # undecodable body: what a collector answers
                self.reply(400, json.dumps({"message": "cannot decode the request: %s" % error}).encode())
                return
            response = RESPONSES[path]()
            if content_type == "application/json":
                self.reply(200, json_format.MessageToJson(response).encode(), "application/json")
            else:
                self.reply(200, response.SerializeToString(), "application/x-protobuf")

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/spans":
                filters = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items() if k in ("traceId", "serviceName", "name")}
                if "traceId" in filters:
                    filters["traceId"] = filters["traceId"].lower()
                self.reply(200, json.dumps(store.list(filters)).encode())
            elif url.path == "/health":
                self.reply(200, b"ok", "text/plain")
            else:
                self.reply(404, b'{"message":"unknown path"}')

        def do_DELETE(self):
            if urllib.parse.urlsplit(self.path).path == "/spans":
                store.clear()
                self.reply(204)
            else:
                self.reply(404, b'{"message":"unknown path"}')

        def log_message(self, format, *args):
            if verbose:
                sys.stderr.write("otlp_receiver: " + format % args + "\n")

    return Handler


def main():
    parser = argparse.ArgumentParser(description="OTLP/HTTP test receiver: collects spans, serves them at GET /spans.")
    parser.add_argument("--port", type=int, default=4318, help="0 picks a free port (printed as 'port N' before 'ready')")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log requests and spans to stderr")
    args = parser.parse_args()

    store = Store()
    server = ThreadingHTTPServer((args.host, args.port), handler(store, args.verbose))
    server.daemon_threads = True
    stop = threading.Event()
    # A parent may have started it with these blocked (a test runner's threads block signals).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    if args.port == 0:
        print("port %d" % server.server_address[1], flush=True)
    print("ready", flush=True)
    parent = os.getppid()
    while not stop.wait(0.5):
        if os.getppid() != parent:  # the process that started it is gone (a test that crashed): do not linger
            break
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
