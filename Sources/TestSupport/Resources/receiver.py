"""A real HTTPS webhook receiver for end-to-end tests.

Listens on 127.0.0.1 with the given certificate and prints one JSON line per request on standard output:
{"method", "path", "headers", "body_base64", "received_at", "verified"}. The first line is {"listening": PORT}.

--statuses 500,500,204   answers these in turn, then the last one for ever
--header "Name: value"   adds a header field to every answer (repeatable)
--delay SECONDS          waits this long after printing a request before answering it
--handshake-delay SECONDS  waits this long after accepting a connection before the TLS handshake (a slow
                         endpoint: the client cannot send its request before then)
--secrets-file PATH      verifies each request with the official `standardwebhooks` library against every
                         secret in the file (one per line, read per request); "verified" lists the results
"""

import argparse
import base64
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time


def main():
    # A parent may start us with SIGTERM blocked (the mask survives exec); stopping must still work.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--statuses", default="204")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--secrets-file")
    parser.add_argument("--delay", type=float, default=0)
    parser.add_argument("--handshake-delay", type=float, default=0)
    args = parser.parse_args()

    statuses = [int(item) for item in args.statuses.split(",")]
    extra_headers = [line.split(":", 1) for line in args.header]
    lock = threading.Lock()
    count = [0]

    def verify(body, headers):
        if not args.secrets_file:
            return []
        from standardwebhooks.webhooks import Webhook

        try:
            with open(args.secrets_file) as handle:
                secrets = [line.strip() for line in handle if line.strip()]
        except OSError:
            return []
        results = []
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers)
                results.append(True)
            except Exception:
                results.append(False)
        return results

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            self.handshake_failed = False
            if args.handshake_delay:
                time.sleep(args.handshake_delay)
                try:
                    self.request.do_handshake()
                except (ssl.SSLError, OSError):
                    self.handshake_failed = True  # the client gave up meanwhile
            super().setup()

        def handle(self):
            if not self.handshake_failed:
                super().handle()

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            with lock:
                index = min(count[0], len(statuses) - 1)
                count[0] += 1
            record = {
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "body_base64": base64.b64encode(body).decode(),
                "received_at": time.time(),
                "verified": verify(body, headers),
            }
            line = json.dumps(record) + "\n"
            with lock:
                sys.stdout.write(line)
                sys.stdout.flush()
            if args.delay:
                time.sleep(args.delay)
            status = statuses[index]
            answer = b"" if status in (204, 304) or 100 <= status < 200 else b"ok"
            self.send_response(status)
            for name, value in extra_headers:
                self.send_header(name.strip(), value.strip())
            if status not in (204, 304):
                self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_DELETE = handle_any

        def log_message(self, *_):
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 256
        daemon_threads = True

    server = Server(("127.0.0.1", args.port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=not args.handshake_delay)
    print(json.dumps({"listening": server.server_address[1]}), flush=True)
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def exit_with_parent(parent):
    """Exits when the test process that started us is gone: a test run that crashed must not leave us holding
    its output pipe open (the test runner would wait on it for ever)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
