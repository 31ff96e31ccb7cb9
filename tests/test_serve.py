"""`sensetime-data serve` as a user starts it: a real server on a loopback port."""

import os
import subprocess
import time
import urllib.request

from helpers import installed
from sensetime_data.serve import free_port


def test_serve_command_prints_its_url_and_answers(good_copy):
    port = free_port()
    proc = subprocess.Popen(
        [str(installed("sensetime-data")), "--root", str(good_copy), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/sensetime/financials.json", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
