"""relay - a TCP relay that adds delay and loss, for kernels without netem

    python3 relay.py SETTINGS LISTEN_HOST:PORT TARGET_HOST:PORT [...]

Each LISTEN/TARGET pair: connections accepted on LISTEN are relayed to
TARGET, both directions. SETTINGS is a file "DELAY_MS LOSS" (e.g. "80
0.01"), read again every 0.2 s, so a test changes the link while it runs.
Every chunk read is written DELAY_MS later; with probability LOSS a chunk
is held 200 ms more, as a lost segment is until TCP retransmits it (a
relay above TCP cannot drop bytes, but what the programs see of a loss is
this stall, and everything behind it waits too, in order).
"""

import asyncio
import os
import random
import sys
import time

RETRANSMIT_S = 0.2


class Settings:
    def __init__(self, path):
        self.path = path
        self.delay = 0.0
        self.loss = 0.0
        self.mtime = None

    async def watch(self):
        while True:
            try:
                mtime = os.stat(self.path).st_mtime
                if mtime != self.mtime:
                    with open(self.path) as handle:
                        delay, loss = handle.read().split()[:2]
                    self.delay, self.loss, self.mtime = float(delay) / 1000.0, float(loss), mtime
            except (OSError, ValueError):
                pass
            await asyncio.sleep(0.2)


async def pump(reader, writer, settings):
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(send())
    last_due = 0.0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            due = time.monotonic() + settings.delay
            if settings.loss > 0 and random.random() < settings.loss:
                due += RETRANSMIT_S
            last_due = max(due, last_due)       # keep the byte order
            await queue.put((last_due, data))
    except (ConnectionError, OSError):
        pass
    await queue.put((0, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass


async def serve(listen, target, settings):
    async def handle(client_reader, client_writer):
        try:
            host, port = target
            server_reader, server_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pump(client_reader, server_writer, settings),
                             pump(server_reader, client_writer, settings),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, listen[0], listen[1], reuse_address=True)
    async with server:
        await server.serve_forever()


def split(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


async def main(argv):
    settings = Settings(argv[1])
    pairs = argv[2:]
    tasks = [asyncio.ensure_future(settings.watch())]
    for index in range(0, len(pairs), 2):
        tasks.append(asyncio.ensure_future(serve(split(pairs[index]), split(pairs[index + 1]),
                                                 settings)))
    print("relay ready", flush=True)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    if len(sys.argv) < 4 or len(sys.argv) % 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    asyncio.run(main(sys.argv))
