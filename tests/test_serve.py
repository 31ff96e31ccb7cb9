"""Datasette over the build: in-process pages, and `sensetime-data serve` as a user starts it."""

import asyncio
import html
import os
import subprocess
import time
import urllib.request

import pytest
import yaml
from datasette.app import Datasette

from sensetime_data.serve import SETTINGS, free_port
from helpers import installed


@pytest.fixture(scope="module")
def datasette(built):
    metadata = yaml.safe_load((built / "metadata.yml").read_text("utf-8"))
    return Datasette(immutables=[str(built / "sensetime.db")], metadata=metadata, settings=SETTINGS)


def get(ds, path):
    return asyncio.run(ds.client.get(path))


def test_home_page_lists_every_table_with_its_description(datasette, tables):
    response = get(datasette, "/")
    assert response.status_code == 200
    for table in tables.values():
        assert f"/sensetime/{table.name}" in response.text
        assert html.escape(table.description.split("(")[0].strip()[:40]) in response.text


def test_every_table_page_answers(datasette, tables):
    for name in list(tables) + ["observations", "fact_agreement"]:
        assert get(datasette, f"/sensetime/{name}").status_code == 200, name


def test_json_api_returns_chinese_intact(datasette):
    rows = get(datasette, "/sensetime/segments.json?_shape=array").json()
    assert {r["name_zh"] for r in rows} == {"智慧商业", "智慧城市", "智慧生活", "智能汽车"}


def test_database_is_immutable_and_writes_are_refused(datasette):
    response = get(datasette, "/sensetime.json?sql=delete+from+segments")
    assert response.status_code == 400
    assert get(datasette, "/sensetime/segments.json?_shape=array").json()


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
