"""A real `tensorboard` server on loopback, for tests that read what the suite wrote through
its HTTP data API, as the dashboards do."""

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(logdir, runs=1, seconds=90):
    """Serve `logdir`; yield `get(path, body=None)` (JSON in, JSON out; a body makes it a POST)
    once the server answers and lists at least `runs` runs. Stopped on exit."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
         "--port", str(port), "--load_fast", "false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def get(path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    try:
        deadline = time.time() + seconds
        while True:  # until the server answers and has loaded the runs
            try:
                if len(get("/data/runs")) >= runs:
                    break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                pytest.fail(f"tensorboard did not serve {runs} runs of {logdir} within {seconds} s")
            time.sleep(0.5)
        yield get
    finally:
        server.terminate()
        server.wait(timeout=10)
