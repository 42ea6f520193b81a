#!/usr/bin/env python3
"""API benchmarks against a running node (tests/bench/api.sh starts one).

logins: CONCURRENCY clients log in (POST /api/v1/auth/login, the demo's 1003) back to back for SECS
seconds; reports logins/s and latency. Each login verifies an argon2id hash (19 MiB, 2 passes).

events: CLIENTS receptionist clients hold /api/v1/events open (server-sent events); a staff member
changes presence ROUNDS times (PUT /api/v1/me/presence); for each change, the time from sending the PUT
to each client reading its presence_changed event. Reports p50/p99/max over all deliveries.
"""
import asyncio
import http.client
import json
import statistics
import sys
import threading
import time

HOST, PORT = sys.argv[2], int(sys.argv[3])


def request(method, path, body=None, token=None):
    conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def login(user, password):
    status, data = request("POST", "/api/v1/auth/login", {"username": user, "password": password})
    if status != 200:
        raise SystemExit(f"login {user}: {status} {data!r}")
    return json.loads(data)["access_token"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def bench_logins(secs, concurrency):
    latencies = []
    lock = threading.Lock()
    stop = time.monotonic() + secs

    def worker():
        mine = []
        while time.monotonic() < stop:
            t = time.monotonic()
            login("1003", "demo-login-1003")
            mine.append(time.monotonic() - t)
        with lock:
            latencies.extend(mine)

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    ms = [x * 1000 for x in latencies]
    print(f"logins concurrency={concurrency}: {len(ms)} in {elapsed:.1f} s = {len(ms) / elapsed:.1f}/s; "
          f"latency p50 {statistics.median(ms):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, max {max(ms):.1f} ms")


async def sse_client(token, ready, deliveries, rounds_expected):
    reader, writer = await asyncio.open_connection(HOST, PORT)
    writer.write((f"GET /api/v1/events HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
                  "Accept: text/event-stream\r\n\r\n").encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise SystemExit(f"events: {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    ready.release()
    seen = 0
    while seen < rounds_expected:
        line = await reader.readline()
        if not line:
            break
        if b"presence_changed" in line and line.startswith(b"event:"):
            deliveries.append(time.monotonic())
            seen += 1
    writer.close()


async def bench_events(clients, rounds):
    receptionist = login("1002", "demo-login-1002")
    staff = login("1003", "demo-login-1003")
    ready = asyncio.Semaphore(0)
    per_round = [[] for _ in range(rounds)]
    current = {"round": 0}

    class Sink(list):
        def append(self, t):
            per_round[current["round"]].append(t)

    sink = Sink()
    tasks = [asyncio.create_task(sse_client(receptionist, ready, sink, rounds)) for _ in range(clients)]
    for _ in range(clients):
        await asyncio.wait_for(ready.acquire(), 30)
    latencies = []
    loop = asyncio.get_running_loop()
    for r in range(rounds):
        current["round"] = r
        status = "dnd" if r % 2 == 0 else "available"
        sent = time.monotonic()
        await loop.run_in_executor(None, request, "PUT", "/api/v1/me/presence", {"status": status}, staff)
        deadline = time.monotonic() + 10
        while len(per_round[r]) < clients and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if len(per_round[r]) < clients:
            raise SystemExit(f"round {r}: only {len(per_round[r])} of {clients} clients got the event")
        latencies.extend((t - sent) * 1000 for t in per_round[r])
    await asyncio.gather(*tasks)
    print(f"events clients={clients} rounds={rounds}: {len(latencies)} deliveries; PUT sent → event read "
          f"p50 {statistics.median(latencies):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "logins":
        bench_logins(float(sys.argv[4]), int(sys.argv[5]))
    elif what == "events":
        asyncio.run(bench_events(int(sys.argv[4]), int(sys.argv[5])))
