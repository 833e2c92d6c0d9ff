"""A stub OpenAI server on 127.0.0.1 for the cancellation tests: it reads each request
whole, then either never answers ("silent") or streams the head of an answer and nothing
more ("stall"), and records when the client closes each connection, so that a test can
tell that a cancelled call really dropped its transfer. Standard library only."""

import socket
import threading
import time

# What "stall" streams before it stalls: one piece of text.
FIRST_PIECE = "Hello"
_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
         b"Connection: close\r\n\r\n"
         b'data: {"id":"c1","object":"chat.completion.chunk","model":"stub-model",'
         b'"choices":[{"index":0,"delta":{"role":"assistant","content":"'
         + FIRST_PIECE.encode() + b'"},"finish_reason":null}]}\n\n')


class StubServer:
    """Serves every connection the same way until stop(); use as a context manager.

    requests counts the requests read whole; request_seen is set at the first. closes
    lists, per connection, the time.monotonic() at which the client closed it (the
    server never closes one first); closed is set at the first close.
    """

    def __init__(self, mode):
        if mode not in ("silent", "stall"):
            raise ValueError(mode)
        self.mode = mode
        self.requests = 0
        self.request_seen = threading.Event()
        self.closes = []
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._connections = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self):
        """The OpenAI-style base URL."""
        return "http://127.0.0.1:%d/v1" % self._listener.getsockname()[1]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        # shutdown() wakes the thread in accept() (on Linux), close() alone does not.
        with self._lock:
            connections = [self._listener] + self._connections
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(10)
        self._listener.close()

    def _accept(self):
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                self._connections.append(connection)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection):
        with connection:
            if not self._read_request(connection):
                self._note_close()
                return
            with self._lock:
                self.requests += 1
            self.request_seen.set()
            if self.mode == "stall":
                connection.sendall(_HEAD)
            # Nothing more is sent: wait for the client to close (recv reads b"").
            try:
                while connection.recv(4096):
                    pass
            except OSError:
                pass
            self._note_close()

    def _note_close(self):
        with self._lock:
            self.closes.append(time.monotonic())
        self.closed.set()

    @staticmethod
    def _read_request(connection):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return False
            body += chunk
        return True
