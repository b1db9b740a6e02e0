"""Benchmark of the bench's live page: does an open page slow the bench, how fresh is it?

The twin's park served by `twin hil serve`'s bench (the engine in wall-clock mode, step
0.2 s, speed 1) with its dashboard. In alternating rounds, without and with a page open
in headless Chromium (Debian's, driven by Playwright), a Modbus TCP client polls a unit
(read 50 holding registers at 40070, the next request once the answer is in) for
`--seconds`, from a process of its own (a client in the bench's process would share its
interpreter lock with the server, and measure how the threads take turns, not the page); the ratio of requests/s with the page to without is the first figure
(aim >= 0.95). While the page is open, every snapshot it receives is matched to the
wall-clock time the plant took that step: the p50/p95 of that delay is the second
(aim p95 <= 1 s).

Run: python bench/bench_dashboard.py [--seconds S] [--rounds R]
CPU timings on a shared machine are noisy: compare the ratio, not the absolute values.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import struct
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from rich.console import Console
from rich.table import Table

from hil.bench import BenchConfig
from hil.dashboard import CHROMIUM_FLAGS, Dashboard
from hil.serve import BenchRun
from twin.hil_plant import bench_scenario, serve_bench

console = Console()
ADDRESS, COUNT = 40070, 50
AIM_RATIO, AIM_P95_S = 0.95, 1.0


def poll(port: int, seconds: float) -> float:
    """Requests per second of one polling client over `seconds`."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n, tid = 0, 0
    want = 9 + 2 * COUNT
    t_end = time.monotonic() + seconds
    t0 = time.monotonic()
    while time.monotonic() < t_end:
        tid = (tid + 1) & 0xFFFF
        s.sendall(struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, ADDRESS, COUNT))
        got = b""
        while len(got) < want:
            chunk = s.recv(want - len(got))
            if not chunk:
                raise RuntimeError("the bench closed the connection")
            got += chunk
        n += 1
    s.close()
    return n / (time.monotonic() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="polling time per round [s]")
    ap.add_argument("--rounds", type=int, default=5, help="pairs of rounds (without, with)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    bench = serve_bench(bench_scenario(None, step_s=0.2, days=1), BenchConfig(port=0))
    dash = Dashboard(bench)
    stepped: dict[float, float] = {}  # plant time -> wall clock (epoch s) of the step
    lock = threading.Lock()

    def on_step(s) -> None:
        with lock:
            stepped[round(float(s.t_s), 3)] = time.time()

    bench.plant.add_step_hook(on_step)
    with console.status("readying the park (first run compiles the kernels)"):
        run = BenchRun(bench)
        port = run.start()
        dash.start()
    without, with_page, delays = [], [], []
    client = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=list(CHROMIUM_FLAGS)
            )
            for _ in range(args.rounds):
                without.append(client.submit(poll, port, args.seconds).result())
                page = browser.new_page(viewport={"width": 1280, "height": 1400})
                page.add_init_script(
                    "window.seen = []; const ES = window.EventSource;"
                    "window.EventSource = function (u) { const e = new ES(u);"
                    " e.addEventListener('message', (m) => window.seen.push("
                    "[JSON.parse(m.data).t_s, Date.now() / 1000])); return e; };"
                )
                page.goto(dash.url)
                page.wait_for_function("window.bench && window.bench.snapshots > 2")
                with_page.append(client.submit(poll, port, args.seconds).result())
                seen = page.evaluate("window.seen")
                page.close()
                with lock:
                    for t_s, t_page in seen:
                        t_step = stepped.get(round(t_s, 3))
                        if t_step is not None:
                            delays.append(t_page - t_step)
            browser.close()
    finally:
        client.shutdown()
        dash.stop()
        run.stop()
    ratio = statistics.median(w / wo for w, wo in zip(with_page, without, strict=True))
    p50, p95 = (float(np.percentile(delays, q)) for q in (50, 95))
    t = Table(
        "figure", "without page", "with page", "ratio / value", "aim", title="bench_dashboard"
    )
    t.add_row(
        "Modbus requests/s (median; ratio: median of pairs)",
        f"{statistics.median(without):.0f}",
        f"{statistics.median(with_page):.0f}",
        f"{ratio:.3f}",
        f">= {AIM_RATIO}",
    )
    t.add_row(
        "ratio of the medians",
        "",
        "",
        f"{statistics.median(with_page) / statistics.median(without):.3f}",
        f">= {AIM_RATIO}",
    )
    t.add_row("plant step -> page, p50", "", "", f"{p50 * 1000:.0f} ms", "")
    t.add_row(
        f"plant step -> page, p95 ({len(delays)} snapshots)",
        "",
        "",
        f"{p95 * 1000:.0f} ms",
        f"<= {AIM_P95_S * 1000:.0f} ms",
    )
    console.print(t)


if __name__ == "__main__":
    main()
