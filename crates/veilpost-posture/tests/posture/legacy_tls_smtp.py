#!/usr/bin/env python3
"""An SMTP server whose STARTTLS speaks outdated TLS, for the posture tests.

Usage: legacy_tls_smtp.py ADDRESS CERT_PEM KEY_PEM MAX_VERSION
MAX_VERSION is 1.0 (TLS 1.0 only) or 1.2 (TLS 1.0 up to 1.2). The server binds
ADDRESS on a free port, prints the port on stdout and serves until stdin closes.
rustls cannot speak TLS 1.0, so this server is Python's ssl (OpenSSL).
"""

import socket
import ssl
import sys
import threading
import warnings

# TLS 1.0 is deprecated: that is the point of this server.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def serve(conn, context):
    try:
        conn.settimeout(10)
        f = conn.makefile("rb")
        conn.sendall(b"220 legacy.test ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            verb = line.strip().upper()
            if verb.startswith(b"EHLO"):
                conn.sendall(b"250-legacy.test\r\n250 STARTTLS\r\n")
            elif verb == b"STARTTLS":
                conn.sendall(b"220 go ahead\r\n")
                tls = context.wrap_socket(conn, server_side=True)
                tf = tls.makefile("rb")
                while True:
                    line = tf.readline()
                    if not line:
                        return
                    verb = line.strip().upper()
                    if verb.startswith(b"EHLO"):
                        tls.sendall(b"250 legacy.test\r\n")
                    elif verb == b"QUIT":
                        tls.sendall(b"221 bye\r\n")
                        return
                    else:
                        tls.sendall(b"250 ok\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def main():
    address, cert, key, max_version = sys.argv[1:5]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = (
        ssl.TLSVersion.TLSv1 if max_version == "1.0" else ssl.TLSVersion.TLSv1_2
    )
    # Debian's OpenSSL refuses TLS 1.0 at its default security level.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, 0))
    listener.listen(16)
    print(listener.getsockname()[1], flush=True)

    def accept():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn, context), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
