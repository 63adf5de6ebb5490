"""Load and faults: concurrent annotators saving contours against the real ASGI server, PostgreSQL and Redis.

Self-contained (the default): creates a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust
auth), starts a private redis-server on a free loopback port (the machine's Redis is never touched),
migrates, ingests a few synthetic cine cases into a study, creates the annotator users and their API
tokens, then starts the ASGI server (--server: by default uvicorn with one process per core, as that many
one-process web pods would run here) and a Celery worker. Everything is removed at the end.

Each simulated annotator saves one contour every --interval seconds through the annotation API with the
version it edited (optimistic concurrency). A fraction of them work in pairs on one account, two tabs
on one annotation, so their saves race: a 409 is counted, the annotation re-read and the save retried,
as the tool's "keep mine" does. Afterwards every accepted save is looked up in the annotation's version
history and must hold exactly the content that was sent. A probe times GET /health/live under the same
load (the baseline), and a raw psycopg INSERT of the same JSON on its own connection (a second baseline).

--faults (the second run) kill -9s and restarts the private Redis and the worker mid-run while a few
websocket clients hold the case page's channel open; they reconnect with the browser tool's backoff and
re-fetch the case's annotations on reconnect. `ws_reconnected` counts those that came back after the
Redis restart and heard a save on the new socket.

    .venv/bin/python bench/load.py --quick                 # 10 annotators, 10 s, no faults
    .venv/bin/python bench/load.py                         # 50 annotators, 60 s
    .venv/bin/python bench/load.py --faults                # the same with Redis and worker restarts
    .venv/bin/python bench/load.py --url http://host:8000 --tokens-file tokens.json

For --url, make the tokens file with the server's environment (DATABASE_URL etc.):
    .venv/bin/python bench/load.py --make-tokens tokens.json --study SLUG [--annotators 50]
It holds {"users": [{"username", "token", "password"}], "study": SLUG}; the cine cases of the study are
found through /api/cases/. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TARGETS = {"saves_lost": 0, "http_5xx": 0, "save_p95_ms": 50.0}
STRUCTURES = ("lv_endo", "lv_epi", "rv_endo")
WS_INITIAL_DELAY_S = 0.5  # the browser tool's ReconnectingSocket (frontend/src/ws/socket.ts)
WS_MAX_DELAY_S = 15.0
WS_FATAL_CODES = {4401, 4403}


# --------------------------------------------------------------------------------------------------
# set-up that runs inside Django (a child process with the server's environment)


def _prepare(out: Path, *, annotators: int, study_slug: str | None, cases: int, ws_users: int) -> None:
    """Create (or, with study_slug, reuse) a cine study, annotator users with tokens; write them to `out`."""
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from atrium.accounts.models import User
    from atrium.accounts.services import add_member
    from atrium.accounts.tokens import create_token
    from atrium.celery_app import worker_argv
    from atrium.studies.models import Study
    from atrium.studies.services import create_study

    if study_slug is None:
        call_command("migrate", interactive=False, verbosity=0)
        data_dir = Path(settings.VAR_DIR) / "load-data"
        call_command("make_demo_data", str(data_dir), seed=0, cardiac=cases, ultrasound=0, size=64)
        study = create_study(slug="load", name="Load test", task_kind="cardiac")
        call_command("ingest", str(data_dir / "cardiac"), study=study.slug, no_progress=True)
    else:
        study = Study.objects.get(slug=study_slug)
    tag = secrets.token_hex(3)
    users = []
    for index in range(annotators):
        username = f"load-{tag}-{index:03d}"
        user = User(username=username, role="annotator")
        password = ""
        if index < ws_users:  # only websocket clients log in; hashing 50 passwords would take a minute
            password = secrets.token_urlsafe(12)
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        add_member(user=user, study=study)
        _, key = create_token(user=user, name="bench/load.py")
        users.append({"username": username, "token": key, "password": password})
    out.write_text(json.dumps({"users": users, "study": study.slug, "worker_argv": worker_argv("load@%h")}))


# --------------------------------------------------------------------------------------------------
# processes: PostgreSQL database, private Redis, the ASGI server, Celery worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def server_argv(kind: str, port: int) -> list[str]:
    """The ASGI server: "uvicorn:N" (N processes; the web image runs uvicorn, one process per pod) or
    "daphne" (one process, as the demo runs)."""
    if kind == "daphne":
        return [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "atrium.asgi:application"]
    workers = kind.partition(":")[2] or "1"
    return [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--workers", workers,
            "--no-access-log", "--log-level", "warning", "atrium.asgi:application"]  # fmt: skip


class Stack:
    """The private services of a self-contained run. `close()` removes all of them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="atrium-load-"))
        self.db_name = f"atrium_load_{os.getpid()}"
        self.db_created = False
        self.redis_port = free_port()
        self.http_port = free_port()
        self.redis: subprocess.Popen[bytes] | None = None
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_argv: list[str] = []
        self.worker_starts = 0
        self.server_kind = args.server
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("ATRIUM_", "DATABASE_URL", "REDIS_URL"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="atrium.settings.local",
            ATRIUM_DEBUG="false",  # DEBUG keeps every SQL query in memory; not how a server runs
            DATABASE_URL=f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}/{self.db_name}",
            REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            ATRIUM_VAR_DIR=str(self.tmp / "var"),
            ATRIUM_CHANNEL_PREFIX=f"load{os.getpid()}",
            ATRIUM_LOG_LEVEL="WARNING",
            ATRIUM_DB_POOL=str(args.db_pool),
            PYTHONPATH=os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
        )
        self.env = env
        self.url = f"http://127.0.0.1:{self.http_port}"

    def _admin_sql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.args.pg_host, port=self.args.pg_port, user=self.args.pg_user, dbname="postgres",
            autocommit=True, connect_timeout=5,
        ) as conn:  # fmt: skip
            conn.execute(sql)  # type: ignore[arg-type]

    def start(self, *, annotators: int, cases: int, ws_users: int) -> dict[str, Any]:
        self._admin_sql(f'CREATE DATABASE "{self.db_name}"')
        self.db_created = True
        self.start_redis()
        out = self.tmp / "users.json"
        subprocess.run(
            [PYTHON, __file__, "--prepare-into", str(out), "--annotators", str(annotators),
             "--cases", str(cases), "--ws-users", str(ws_users)],
            env=self.env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        setup = json.loads(out.read_text())
        self.worker_argv = setup["worker_argv"]
        self.start_worker()
        self.server = subprocess.Popen(
            server_argv(self.server_kind, self.http_port),
            env=self.env, cwd=ROOT, stdout=self._log("server"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_port(self.http_port, 60)
        return setup

    def _log(self, name: str) -> Any:
        return open(self.tmp / f"{name}.log", "ab")  # the child process owns the file

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=self._log("redis"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_port(self.redis_port, 10)

    def start_worker(self) -> None:
        self.worker_starts += 1
        self.worker = subprocess.Popen(
            self.worker_argv, env=self.env, cwd=ROOT, stdout=self._log("worker"), stderr=subprocess.STDOUT
        )

    @staticmethod
    def kill9(process: subprocess.Popen[bytes] | None) -> None:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.tmp / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        running = [p for p in (self.server, self.worker) if p is not None and p.poll() is None]
        for process in running:  # both at once: each takes a moment to shut down
            process.terminate()
        for process in running:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill9(process)
        self.kill9(self.redis)
        if self.db_created:
            try:
                self._admin_sql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            except Exception as exc:  # report, then go on removing the rest
                print(f"could not drop database {self.db_name}: {exc}", file=sys.stderr)
        if self.args.keep:
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# the load


@dataclass
class Accepted:
    annotation: int
    number: int
    data: dict[str, Any]


@dataclass
class Tally:
    save_ms: list[float] = field(default_factory=list)
    probe_ms: list[float] = field(default_factory=list)
    pg_insert_ms: list[float] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    attempts: int = 0
    conflicts: int = 0
    retried_after_conflict: int = 0
    gave_up_after_409: int = 0
    task_failures: int = 0  # a client coroutine that died: the load was lighter than asked
    http_5xx: int = 0
    http_4xx_other: int = 0
    transport_errors: int = 0
    errors: list[str] = field(default_factory=list)

    def note_error(self, message: str) -> None:
        if len(self.errors) < 10:
            self.errors.append(message)


def contour(
    rng: random.Random, case: dict[str, Any], structure: str, slice_: int, phase: int
) -> dict[str, Any]:
    """A jittered circle inside the image; coordinates with two decimals survive the server's rounding."""
    height, width = case["shape"][-2], case["shape"][-1]
    cx, cy = width / 2 + rng.uniform(-4, 4), height / 2 + rng.uniform(-4, 4)
    radius = min(width, height) * rng.uniform(0.15, 0.3)
    n = rng.randint(12, 40)
    points = [
        [
            round(cx + radius * math.cos(2 * math.pi * k / n), 2),
            round(cy + radius * math.sin(2 * math.pi * k / n), 2),
        ]
        for k in range(n)
    ]
    return {"structure": structure, "slice": slice_, "phase": phase, "points": points, "mode": "freehand"}


class Annotator:
    """One browser tab. `annotation` is shared between the two tabs of a pair (same user, same contour)."""

    def __init__(self, index: int, token: str, case: dict[str, Any], tally: Tally, seed: int) -> None:
        self.index = index
        self.token = token
        self.case = case
        self.tally = tally
        self.rng = random.Random(seed)
        self.structure = STRUCTURES[index % 3]
        self.slice = index % case["shape"][0]
        self.phase = (index // 3) % case["shape"][1]
        self.annotation: int | None = None
        self.version = 0

    async def _save(self, client: Any, method: str, path: str, body: dict[str, Any]) -> Any:
        self.tally.attempts += 1
        start = time.perf_counter()
        try:
            response = await client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            self.tally.transport_errors += 1
            self.tally.note_error(f"{method} {path}: {type(exc).__name__}: {exc}")
            return None
        self.tally.save_ms.append((time.perf_counter() - start) * 1000)
        if response.status_code >= 500:
            self.tally.http_5xx += 1
            self.tally.note_error(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response

    async def save_once(self, client: Any) -> None:
        data = contour(self.rng, self.case, self.structure, self.slice, self.phase)
        if self.annotation is None:
            response = await self._save(
                client,
                "POST",
                f"/api/cases/{self.case['id']}/annotations/",
                {"kind": "contour", "data": data},
            )
            if response is not None and response.status_code == 201:
                self._accept(response.json(), data)
            elif response is not None and response.status_code < 500:
                self.tally.http_4xx_other += 1
                self.tally.note_error(f"create: {response.status_code} {response.text[:200]}")
            return
        for attempt in range(4):
            response = await self._save(
                client, "PUT", f"/api/annotations/{self.annotation}/", {"data": data, "version": self.version}
            )
            if response is None or response.status_code >= 500:
                return
            if response.status_code == 200:
                self.tally.retried_after_conflict += attempt > 0
                self._accept(response.json(), data)
                return
            if response.status_code != 409:
                self.tally.http_4xx_other += 1
                self.tally.note_error(f"update: {response.status_code} {response.text[:200]}")
                return
            self.tally.conflicts += 1
            # The tool keeps the user's copy, re-reads the annotation and saves over the current version.
            try:
                current = await client.get(f"/api/annotations/{self.annotation}/")
            except httpx.HTTPError as exc:
                self.tally.transport_errors += 1
                self.tally.note_error(f"re-read after 409: {type(exc).__name__}: {exc}")
                return
            if current.status_code != 200:
                self.tally.http_5xx += current.status_code >= 500
                return
            self.version = int(current.json()["version"])
        self.tally.gave_up_after_409 += 1

    def _accept(self, body: dict[str, Any], sent: dict[str, Any]) -> None:
        self.annotation, self.version = int(body["id"]), int(body["version"])
        self.tally.accepted.append(Accepted(self.annotation, self.version, sent))

    async def run(self, client: Any, start_at: float, stop_at: float, interval: float) -> None:
        loop = asyncio.get_running_loop()
        next_at = start_at + self.rng.uniform(0, interval)  # spread the tabs over the interval
        while True:
            await asyncio.sleep(max(0.0, min(next_at, stop_at) - loop.time()))
            if loop.time() >= stop_at:
                return
            await self.save_once(client)
            next_at += interval


async def probe(url: str, tally: Tally, stop_at: float) -> None:
    """The baseline: GET /health/live (no database, no auth) every 100 ms through the same server."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        while loop.time() < stop_at:
            start = time.perf_counter()
            try:
                response = await client.get("/health/live")
                tally.probe_ms.append((time.perf_counter() - start) * 1000)
                tally.http_5xx += response.status_code >= 500
            except httpx.HTTPError:
                tally.transport_errors += 1
            await asyncio.sleep(0.1)


async def pg_probe(conninfo: str, tally: Tally, stop_at: float) -> None:
    """The second baseline: one INSERT of a contour-sized JSON row per transaction, straight to PostgreSQL,
    into an ordinary (WAL-logged, so fsynced at commit like a save) table of the throw-away database."""
    import psycopg

    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    payload = json.dumps(contour(rng, {"shape": [1, 1, 64, 64]}, "lv_endo", 0, 0))
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS load_probe (id bigserial primary key, data jsonb)")
        while loop.time() < stop_at:
            start = time.perf_counter()
            async with conn.transaction():
                await conn.execute("INSERT INTO load_probe (data) VALUES (%s)", (payload,))
            tally.pg_insert_ms.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.1)


# --------------------------------------------------------------------------------------------------
# websocket clients with the browser tool's reconnect


@dataclass
class WsStats:
    opens: list[float] = field(default_factory=list)
    closes: list[tuple[float, int | None]] = field(default_factory=list)
    events: list[float] = field(default_factory=list)
    refetches: int = 0
    gave_up: bool = False


async def login(url: str, username: str, password: str) -> str:
    """Log in through the login page as the browser does; returns the session cookie."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        page = await client.get("/accounts/login/")
        csrf = page.cookies.get("csrftoken", "")
        response = await client.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{url}/accounts/login/"},
        )
        session = client.cookies.get("sessionid")
        if response.status_code not in (200, 302) or not session:
            raise RuntimeError(f"log-in of {username} failed: {response.status_code}")
        return f"sessionid={session}; csrftoken={csrf}"


async def ws_client(url: str, cookie: str, case_id: int, stats: WsStats, stop_at: float) -> None:
    """Hold /ws/cases/<id>/ open like ReconnectingSocket: exponential backoff with jitter, reset once open,
    no retry after 4401/4403; on every reconnect re-fetch the case's annotations (events were missed)."""
    loop = asyncio.get_running_loop()
    ws_url = url.replace("http", "ws", 1) + f"/ws/cases/{case_id}/"
    headers = {"Cookie": cookie, "Origin": url}
    delay = WS_INITIAL_DELAY_S
    attempts = 0
    async with httpx.AsyncClient(base_url=url, timeout=10, headers={"Cookie": cookie}) as http:
        while loop.time() < stop_at:
            code: int | None = None
            attempts += 1
            try:
                async with websockets.connect(ws_url, additional_headers=headers, open_timeout=5) as ws:
                    stats.opens.append(loop.time())
                    delay = WS_INITIAL_DELAY_S
                    if attempts > 1:  # as the tool's onReconnect: catch up on what the gap missed
                        with contextlib.suppress(httpx.HTTPError):
                            response = await http.get(f"/api/cases/{case_id}/annotations/")
                            stats.refetches += response.status_code == 200
                    while True:
                        remaining = stop_at - loop.time()
                        if remaining <= 0:
                            return
                        try:
                            message = await asyncio.wait_for(ws.recv(), timeout=remaining)
                        except TimeoutError:
                            return
                        event = json.loads(message)
                        if event.get("type") == "annotation.saved":
                            stats.events.append(loop.time())
            except websockets.ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                code = getattr(getattr(exc, "response", None), "status_code", None)
            stats.closes.append((loop.time(), code))
            if code in WS_FATAL_CODES:
                stats.gave_up = True
                return
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, WS_MAX_DELAY_S)


# --------------------------------------------------------------------------------------------------
# the run


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))  # nearest rank
    return round(ordered[rank], 2)


async def discover_cases(url: str, token: str, study: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Token {token}"}) as c:
        response = await c.get("/api/cases/", params={"study": study, "limit": 100})
        response.raise_for_status()
        body = response.json()
        rows = body["results"] if isinstance(body, dict) else body
    cases = [
        {"id": row["id"], "shape": row["series"][0]["shape"]}
        for row in rows
        if row["series"] and row["series"][0]["layout"] == "cine"
    ]
    if not cases:
        raise RuntimeError(f"study {study!r} has no cine case to draw contours on")
    return cases


async def verify(
    url: str, tokens: dict[int, str], owner_of: dict[int, int], tally: Tally
) -> tuple[int, list[str]]:
    """Every accepted (annotation, version) must be in the version history with exactly the data sent."""
    lost = 0
    notes: list[str] = []
    wanted: dict[int, list[Accepted]] = {}
    for record in tally.accepted:
        wanted.setdefault(record.annotation, []).append(record)
    for annotation, records in wanted.items():
        headers = {"Authorization": f"Token {tokens[owner_of[annotation]]}"}
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as client:
            response = await client.get(f"/api/annotations/{annotation}/versions/")
        if response.status_code != 200:
            lost += len(records)
            notes.append(f"annotation {annotation}: versions gave {response.status_code}")
            continue
        stored = {v["number"]: v["data"] for v in response.json()}
        for record in records:
            if stored.get(record.number) != record.data:
                lost += 1
                if len(notes) < 10:
                    notes.append(f"annotation {record.annotation} v{record.number} missing or changed")
    return lost, notes


async def run_load(
    args: argparse.Namespace, url: str, users: list[dict[str, Any]], cases: list[dict[str, Any]],
    stack: Stack | None,
) -> dict[str, Any]:  # fmt: skip
    tally = Tally()
    n = args.annotators
    paired = int(n * args.shared_fraction) // 2 * 2
    tabs: list[Annotator] = []
    account_of: list[int] = []  # which user each tab logs in as
    for index in range(n):
        account = index - 1 if index < paired and index % 2 == 1 else index
        account_of.append(account)
        tabs.append(Annotator(index, users[account]["token"], cases[index % len(cases)], tally, seed=index))
    for index in range(1, paired, 2):  # the second tab of a pair edits its partner's contour
        tabs[index].case, tabs[index].structure = tabs[index - 1].case, tabs[index - 1].structure
        tabs[index].slice, tabs[index].phase = tabs[index - 1].slice, tabs[index - 1].phase

    clients = [
        httpx.AsyncClient(base_url=url, timeout=10, headers={"Authorization": f"Token {tab.token}"})
        for tab in tabs
    ]
    try:
        # Before the clock starts: each pair's first tab creates the shared contour; the second one reads it.
        for index in range(0, paired, 2):
            await tabs[index].save_once(clients[index])
            tabs[index + 1].annotation, tabs[index + 1].version = tabs[index].annotation, tabs[index].version
        ws_stats = [WsStats() for _ in range(args.ws_clients)]
        cookies = [
            await login(url, users[i]["username"], users[i]["password"]) for i in range(args.ws_clients)
        ]
        loop = asyncio.get_running_loop()
        start_at = loop.time() + 0.5
        stop_at = start_at + args.duration
        tasks = [
            asyncio.create_task(tab.run(client, start_at, stop_at, args.interval))
            for tab, client in zip(tabs, clients, strict=True)
        ]
        tasks.append(asyncio.create_task(probe(url, tally, stop_at)))
        if stack is not None:
            tasks.append(asyncio.create_task(pg_probe(stack.env["DATABASE_URL"], tally, stop_at)))
        # Websocket clients sit on the cases the annotators save on, so each should hear saves.
        tasks += [
            asyncio.create_task(
                ws_client(url, cookies[i], cases[i % len(cases)]["id"], ws_stats[i], stop_at + 1)
            )
            for i in range(args.ws_clients)
        ]
        faults: dict[str, Any] = {}
        if args.faults and stack is not None:
            tasks.append(asyncio.create_task(inject_faults(stack, start_at, args.duration, faults)))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                tally.task_failures += 1
                tally.note_error(f"task failed: {type(result).__name__}: {result}")
    finally:
        for client in clients:
            await client.aclose()

    tokens = {i: u["token"] for i, u in enumerate(users)}
    owner_of = {tab.annotation: account_of[tab.index] for tab in tabs if tab.annotation is not None}
    lost, lost_notes = await verify(url, tokens, owner_of, tally)
    ws_summary = summarise_ws(ws_stats, faults.get("redis_restarted_at"))
    return {
        "tally": tally,
        "lost": lost,
        "lost_notes": lost_notes,
        "paired_tabs": paired,
        "ws": ws_summary,
        "faults": {k: v for k, v in faults.items() if k != "redis_restarted_at"},
    }


async def inject_faults(stack: Stack, start_at: float, duration: float, out: dict[str, Any]) -> None:
    """kill -9 Redis at 30 % of the run and start it again a second later; kill -9 the worker at 55 %."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start_at + 0.3 * duration - loop.time()))
    stack.kill9(stack.redis)
    out["redis_killed_at_s"] = round(loop.time() - start_at, 2)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.start_redis)
    out["redis_restarted_at"] = loop.time()
    out["redis_restarted_at_s"] = round(loop.time() - start_at, 2)
    await asyncio.sleep(max(0.0, start_at + 0.55 * duration - loop.time()))
    stack.kill9(stack.worker)
    out["worker_killed_at_s"] = round(loop.time() - start_at, 2)
    await asyncio.sleep(0.5)
    stack.start_worker()
    out["worker_restarted_at_s"] = round(loop.time() - start_at, 2)


def worker_roundtrip(stack: Stack, timeout: float = 30.0) -> float | None:
    """Send celery's built-in `celery.accumulate` to the worker's queue through Redis and wait for the
    result: after the restarts the worker must consume again. Seconds taken, None when it never came."""
    from celery import Celery

    app = Celery("load-probe", broker=stack.env["REDIS_URL"], backend=stack.env["REDIS_URL"])
    start = time.perf_counter()
    result = None
    try:
        result = app.send_task("celery.accumulate", args=(42,), queue="cpu")
        ok = list(result.get(timeout=timeout)) == [42]  # accumulate hands back its arguments
    except Exception as exc:  # a timeout or a broker error both mean "did not come back"
        print(f"worker round trip failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        ok = False
    finally:
        if result is not None:
            with contextlib.suppress(Exception):
                result.forget()  # unsubscribe now, while Redis is still there
        app.close()
    return round(time.perf_counter() - start, 3) if ok else None


def summarise_ws(stats: list[WsStats], redis_restarted_at: float | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "clients": len(stats),
        "connects": sum(len(s.opens) for s in stats),
        "drops": sum(len(s.closes) for s in stats),
        "refetches_on_reconnect": sum(s.refetches for s in stats),
        "events_received": sum(len(s.events) for s in stats),
        "gave_up": sum(s.gave_up for s in stats),
    }
    if redis_restarted_at is not None:
        # Reconnected: a new socket opened after Redis came back, and a save was heard on it.
        summary["ws_reconnected"] = sum(
            any(t >= redis_restarted_at for t in s.opens)
            and any(e >= max(t for t in s.opens) for e in s.events)
            for s in stats
        )
    return summary


def missing_prerequisites(args: argparse.Namespace) -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server); the bench starts a private one"
    import psycopg

    try:
        psycopg.connect(
            host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres", connect_timeout=3
        ).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at {args.pg_user}@{args.pg_host}:{args.pg_port} cannot be reached: {exc}".strip()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 annotators for 10 s, no faults")
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between one annotator's saves")
    parser.add_argument(
        "--shared-fraction", type=float, default=0.2, help="tabs that work in pairs on one contour"
    )
    parser.add_argument("--faults", action="store_true", help="restart Redis and the worker mid-run")
    parser.add_argument("--ws-clients", type=int, default=4, help="websocket clients on the case channel")
    parser.add_argument("--cases", type=int, default=4, help="cine cases (self-contained mode)")
    parser.add_argument("--url", help="a running server instead of the self-contained stack")
    parser.add_argument("--tokens-file", type=Path, help="with --url: users and tokens (see --make-tokens)")
    parser.add_argument(
        "--make-tokens", type=Path, help="create users and tokens in --study, write them, exit"
    )
    parser.add_argument("--study", help="the study slug for --make-tokens")
    parser.add_argument(
        "--db-pool", type=int, default=0, help="ATRIUM_DB_POOL for the server and worker (0: no pool)"
    )
    parser.add_argument(
        "--server",
        default=f"uvicorn:{os.cpu_count() or 1}",
        help='the ASGI server: "uvicorn:N" (N processes; default one per core) or "daphne"',
    )
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) afterwards")
    parser.add_argument("--prepare-into", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ws-users", type=int, default=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.annotators, args.duration, args.faults, args.cases = 10, 10.0, False, 1
        args.ws_clients = min(args.ws_clients, 2)  # each logs in: a password hash on a busy CPU
    args.ws_clients = min(args.ws_clients, args.annotators)

    if args.prepare_into is not None:
        _prepare(args.prepare_into, annotators=args.annotators, study_slug=None, cases=args.cases,
                 ws_users=args.ws_users)  # fmt: skip
        return
    if args.make_tokens is not None:
        if not args.study:
            parser.error("--make-tokens needs --study SLUG")
        _prepare(args.make_tokens, annotators=args.annotators, study_slug=args.study, cases=0,
                 ws_users=args.ws_clients)  # fmt: skip
        print(f"wrote {args.annotators} users and tokens to {args.make_tokens}")
        return
    if args.url and args.faults:
        parser.error("--faults restarts the private Redis and worker, so it needs the self-contained mode")
    if args.url and not args.tokens_file:
        parser.error("--url needs --tokens-file (make one with --make-tokens)")

    if not args.url:
        missing = missing_prerequisites(args)
        if missing:
            # Not a missed target: this machine cannot run the self-contained stack at all.
            print(json.dumps({"bench": "load", "skipped": missing, "passed": None}))
            return

    stack: Stack | None = None
    started = time.perf_counter()

    def on_signal(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if args.url:
            setup = json.loads(args.tokens_file.read_text())
            url = args.url.rstrip("/")
            if len(setup["users"]) < args.annotators:
                parser.error(f"{args.tokens_file} holds {len(setup['users'])} users, fewer than --annotators")
        else:
            stack = Stack(args)
            setup = stack.start(annotators=args.annotators, cases=args.cases, ws_users=args.ws_clients)
            url = stack.url
        users = setup["users"]
        args.ws_clients = min(args.ws_clients, sum(1 for u in users if u.get("password")))
        cases = asyncio.run(discover_cases(url, users[0]["token"], setup["study"]))
        setup_s = time.perf_counter() - started
        outcome = asyncio.run(run_load(args, url, users, cases, stack))
        if stack is not None:
            outcome["faults"]["worker_alive_at_end"] = (
                stack.worker is not None and stack.worker.poll() is None
            )
            outcome["faults"]["worker_task_roundtrip_s"] = worker_roundtrip(stack)
            outcome["faults"]["server_alive_at_end"] = (
                stack.server is not None and stack.server.poll() is None
            )
        report = build_report(args, outcome, url, setup_s, stack)
    except BaseException:
        if stack is not None:
            for name in ("server", "worker", "redis"):
                print(f"--- {name}.log\n{stack.log_tail(name)}", file=sys.stderr)
        raise
    finally:
        if stack is not None:
            stack.close()
    print(json.dumps(report))


def build_report(
    args: argparse.Namespace, outcome: dict[str, Any], url: str, setup_s: float, stack: Stack | None
) -> dict[str, Any]:
    tally: Tally = outcome["tally"]
    p95, p99 = percentile(tally.save_ms, 95), percentile(tally.save_ms, 99)
    probe_p95 = percentile(tally.probe_ms, 95)
    pg_p95 = percentile(tally.pg_insert_ms, 95)
    passed: dict[str, bool] = {
        "saves_lost": outcome["lost"] == 0,
        "http_5xx": tally.http_5xx == 0,
        "save_p95_ms": p95 is not None and p95 <= TARGETS["save_p95_ms"],
        "saves_accepted": len(tally.accepted) > 0,
        "client_task_failures": tally.task_failures == 0,
    }
    targets: dict[str, Any] = dict(TARGETS)
    targets["saves_accepted"] = "> 0"
    targets["client_task_failures"] = 0
    ws = outcome["ws"]
    if args.faults:
        targets["ws_reconnected"] = ws["clients"]
        passed["ws_reconnected"] = ws.get("ws_reconnected") == ws["clients"]
        targets["worker_alive_at_end"] = True
        passed["worker_alive_at_end"] = bool(outcome["faults"].get("worker_alive_at_end"))
        targets["worker_task_roundtrip_s"] = "a result within 30 s"
        passed["worker_task_roundtrip_s"] = outcome["faults"].get("worker_task_roundtrip_s") is not None
    load = os.getloadavg()
    return {
        "bench": "load",
        "server": args.server if stack is not None else "as deployed",
        "measured": "PUT/POST of contour annotations through the ASGI server + Django + PostgreSQL + Redis on "
        "loopback, "
        "client-side latency of each save request (409s included); load generator on the same machine",
        "mode": "url" if stack is None else "self-contained",
        "url": url if stack is None else None,
        "annotators": args.annotators,
        "duration_s": args.duration,
        "interval_s": args.interval,
        "paired_tabs": outcome["paired_tabs"],
        "db_pool": args.db_pool if stack is not None else "as the server is configured",
        "saves_attempted": tally.attempts,
        "saves_accepted": len(tally.accepted),
        "saves_conflict_409": tally.conflicts,
        "saves_accepted_after_409_retry": tally.retried_after_conflict,
        "saves_given_up_after_4_conflicts": tally.gave_up_after_409,
        "saves_lost": outcome["lost"],
        "http_5xx": tally.http_5xx,
        "http_4xx_other": tally.http_4xx_other,
        "transport_errors": tally.transport_errors,
        "client_task_failures": tally.task_failures,
        "save_p50_ms": percentile(tally.save_ms, 50),
        "save_p95_ms": p95,
        "save_p99_ms": p99,
        "save_max_ms": round(max(tally.save_ms), 2) if tally.save_ms else None,
        "saves_per_s": round(len(tally.save_ms) / args.duration, 2),
        "baseline": {
            "health_live_p95_ms": probe_p95,
            "health_live_p50_ms": percentile(tally.probe_ms, 50),
            "pg_insert_p95_ms": pg_p95,
        },
        "save_p95_vs_health_live_p95": round(p95 / probe_p95, 2) if p95 and probe_p95 else None,
        "ws": ws,
        "faults": outcome["faults"] if args.faults else None,
        "errors_sample": tally.errors + outcome["lost_notes"],
        "setup_s": round(setup_s, 1),
        "machine": {"cpu_count": os.cpu_count(), "loadavg_1m_at_end": round(load[0], 2)},
        "targets": targets,
        "pass": passed,
        "passed": all(passed.values()),
    }


if __name__ == "__main__":
    main()
