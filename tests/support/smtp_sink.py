"""A real SMTP server on loopback (aiosmtpd) that stores every mail it
receives as a .eml file, for chatroom's mail tests.

Usage: smtp_sink.py PORT DIR   — prints READY once listening; runs until
its standard input closes or it is killed.
"""

import os
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.directory, f"{time.time_ns()}-{self.count}.eml")
        with open(name + ".tmp", "wb") as out:
            rcpts = ",".join(envelope.rcpt_tos)
            out.write(f"X-Envelope-To: {rcpts}\r\n".encode())
            out.write(envelope.original_content or envelope.content)
        os.replace(name + ".tmp", name)
        return "250 Message accepted"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
