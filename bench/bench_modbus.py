"""Benchmark of the HIL bench: Modbus throughput/latency and the plant's wall-clock jitter.

1. Polling clients (1, then 8 at once; each its own process and connection, a read of 50
   holding registers per request, the next sent when the answer is in) against an
   emulated unit (our register image behind `hil.server`, refreshed at 10 Hz by a
   publisher thread, as the plant does) and against a bare pymodbus server with a static
   datastore of the same size, in the same run, in paired rounds (alternating order).
   Aims at 8 clients: the emulated unit serves >= 0.9x the bare server's requests/s with
   <= 1.5x its p99 latency.
2. The twin's plant in wall-clock mode at 10 Hz (step 0.1 s, speed 1) with the bench's
   step hook, against a bare simpy RealtimeEnvironment ticking at 10 Hz: the spread of
   the step intervals around 100 ms.

Run: python bench/bench_modbus.py [--requests N] [--rounds R] [--clients 1,8] [--jitter-s S]
CPU timings on a shared machine are noisy: compare the ratios, not the absolute values.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import socket
import statistics
import struct
import threading
import time

import numpy as np
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from rich.console import Console
from rich.table import Table

from hil.emulated import EmulatedUnit, UnitRatings
from hil.server import ModbusEndpoint
from hil.vendor import load_vendor_file

console = Console()
ADDRESS, COUNT = 40070, 50
AIM_RPS, AIM_P99 = 0.9, 1.5


class _Sink:
    def setpoint(self, index, p_kw, q_kvar):
        pass

    def command(self, index, action):
        pass


class BareServer:
    """pymodbus with a static datastore (no action hook), in its own thread."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            dev = SimDevice(
                id=1,
                simdata=[
                    SimData(address=40000, values=[7] * self.size, datatype=DataType.REGISTERS)
                ],
            )
            self.server = ModbusTcpServer(dev, address=("127.0.0.1", 0))
            await self.server.serve_forever(background=True)
            self.port = self.server.transport.sockets[0].getsockname()[1]
            self.loop = asyncio.get_running_loop()
            self._ready.set()
            await self.server.serving

        asyncio.run(main())

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(5)
        self._thread.join(5)


def _request(tid: int) -> bytes:
    return struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, ADDRESS, COUNT)


_ANSWER = 9 + 2 * COUNT  # MBAP 7 + fc + byte count + registers


def _client(pipe, barrier) -> None:
    """A client process: per round, one connection, n reads, latencies [s] back."""
    while (job := pipe.recv()) is not None:
        port, n = job
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        frames = [_request(k & 0xFFFF) for k in range(n)]
        lat = np.empty(n)
        buf = bytearray(_ANSWER)
        view = memoryview(buf)
        barrier.wait()
        for k in range(n):
            t0 = time.perf_counter()
            s.sendall(frames[k])
            got = 0
            while got < _ANSWER:
                m = s.recv_into(view[got:])
                if not m:
                    raise ConnectionError("server closed the connection")
                got += m
            lat[k] = time.perf_counter() - t0
            if buf[7] != 3 or buf[0:2] != frames[k][0:2]:
                raise RuntimeError(f"bad answer {bytes(buf[:9]).hex(' ')}")
        s.close()
        pipe.send(lat)


class Clients:
    """`n` client processes, started once, run together each round."""

    def __init__(self, n: int) -> None:
        ctx = mp.get_context("spawn")
        self.barrier = ctx.Barrier(n)
        self.pipes = []
        self.procs = []
        for _ in range(n):
            here, there = ctx.Pipe()
            p = ctx.Process(target=_client, args=(there, self.barrier), daemon=True)
            p.start()
            self.pipes.append(here)
            self.procs.append(p)

    def round(self, port: int, n: int) -> tuple[float, np.ndarray]:
        """(requests/s of all clients together, latencies [s] of every request)."""
        for pipe in self.pipes:
            pipe.send((port, n))
        lats = [pipe.recv() for pipe in self.pipes]
        # the clients start together (barrier); the round lasts as long as the slowest one
        busy_s = max(lat.sum() for lat in lats)
        return len(lats) * n / busy_s, np.concatenate(lats)

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for p in self.procs:
            p.join(10)


def _spread(x: list[float]) -> str:
    q1, q2, q3 = np.percentile(x, [25, 50, 75])
    return f"{q2:.2f} ({q1:.2f}..{q3:.2f})"


def bench_throughput(n: int, rounds: int, client_counts: list[int]) -> None:
    ratings = UnitRatings(
        "xinsheng-ess-1", "lfp280-2236kwh", 1118.0, 1250.0, 2236.0, 0.05, 0.95, 1250.0, 1331.2
    )
    unit = EmulatedUnit(0, ratings, _Sink(), vendor=load_vendor_file(), watchdog_s=0.0)
    stop = threading.Event()

    def publisher() -> None:  # the plant's 10 Hz refresh, contending for the image lock
        t = 0.0
        while not stop.is_set():
            t += 0.1
            unit.publish(
                t,
                0.1,
                {
                    "p_ac_kw": -800.0 + np.sin(t),
                    "q_ac_kvar": 0.0,
                    "soc": 0.5,
                    "soh": 0.99,
                    "temp_c": 28.0,
                    "ambient_c": 25.0,
                    "pcs_state": 3,
                    "p_charge_max_kw": 1118.0,
                    "p_discharge_max_kw": 1118.0,
                },
            )
            time.sleep(0.1)

    pub = threading.Thread(target=publisher, daemon=True)
    pub.start()
    ours = ModbusEndpoint({1: unit})
    ports = {"ours": ours.start()}
    bare = BareServer(unit.sunspec.map.stop - 40000)
    ports["bare"] = bare.start()
    table = Table(
        "clients",
        "server",
        "requests/s (median round)",
        "p50 ms",
        "p99 ms",
        title=f"Modbus TCP polling: {rounds} paired rounds, each client {n} reads of {COUNT} "
        "registers on its own connection",
    )
    verdicts = []
    try:
        for k_clients in client_counts:
            clients = Clients(k_clients)
            try:
                for name in ("bare", "ours"):  # warm-up
                    clients.round(ports[name], min(n, 200))
                rps: dict[str, list[float]] = {"bare": [], "ours": []}
                lat: dict[str, list[np.ndarray]] = {"bare": [], "ours": []}
                # short rounds, alternating, paired: the machine's load drifts slower than a round
                for k in range(rounds):
                    for name in ("bare", "ours") if k % 2 == 0 else ("ours", "bare"):
                        r, la = clients.round(ports[name], n)
                        rps[name].append(r)
                        lat[name].append(la)
            finally:
                clients.close()
            p99 = {}
            for name in ("bare", "ours"):
                all_lat = np.concatenate(lat[name])
                p99[name] = np.percentile(all_lat, 99)
                table.add_row(
                    str(k_clients),
                    "bare pymodbus" if name == "bare" else "emulated unit (ours)",
                    f"{statistics.median(rps[name]):.0f}",
                    f"{np.percentile(all_lat, 50) * 1e3:.3f}",
                    f"{p99[name] * 1e3:.2f}",
                )
            r_rps = [o / b for o, b in zip(rps["ours"], rps["bare"], strict=True)]
            r_p99 = [
                np.percentile(o, 99) / np.percentile(b, 99)
                for o, b in zip(lat["ours"], lat["bare"], strict=True)
            ]
            verdicts.append((k_clients, r_rps, r_p99))
    finally:
        stop.set()
        ours.stop()
        bare.stop()
    console.print(table)
    ratios = Table(
        "clients",
        f"requests/s ours / bare (aim >= {AIM_RPS:g})",
        f"p99 ours / bare (aim <= {AIM_P99:g})",
        "verdict",
        title="paired rounds: median (quartiles)",
    )
    for k_clients, r_rps, r_p99 in verdicts:
        ok = statistics.median(r_rps) >= AIM_RPS and statistics.median(r_p99) <= AIM_P99
        ratios.add_row(str(k_clients), _spread(r_rps), _spread(r_p99), "meets" if ok else "MISSES")
    console.print(ratios)


def _intervals(stamps: list[float]) -> np.ndarray:
    return np.diff(np.asarray(stamps)) * 1e3


def bench_jitter(seconds: float) -> None:
    import simpy.rt

    from hil.bench import Bench, BenchConfig
    from hil.serve import BenchRun
    from twin.hil_plant import bench_scenario, engine_plant

    # reference: bare simpy realtime at 10 Hz
    env = simpy.rt.RealtimeEnvironment(factor=0.1, strict=False)
    ref: list[float] = []

    def ticker(env):
        while True:
            yield env.timeout(1)
            ref.append(time.perf_counter())

    env.process(ticker(env))
    env.run(until=int(seconds * 10))

    t0 = time.perf_counter()
    sc = bench_scenario(step_s=0.1, days=1)
    plant = engine_plant(sc, 1.0)
    bench = Bench(plant, BenchConfig(port=0))
    build_s = time.perf_counter() - t0
    twin: list[float] = []
    plant.add_step_hook(lambda sample: twin.append(time.perf_counter()))
    with BenchRun(bench, until_s=seconds) as run:
        run.wait()
    table = Table(
        "plant",
        "steps",
        "mean ms",
        "p50 |dev| ms",
        "p99 |dev| ms",
        "max |dev| ms",
        title=f"wall-clock step intervals at 10 Hz over {seconds:g} s (ideal 100 ms)",
    )
    for name, st in (
        ("bare simpy.rt (reference)", ref),
        (f"twin + bench ({len(bench.units)} units, {len(bench.meters)} meters)", twin),
    ):
        iv = _intervals(st)[5:]  # skip the start-up
        dev = np.abs(iv - 100.0)
        table.add_row(
            name,
            str(len(iv)),
            f"{iv.mean():.2f}",
            f"{np.percentile(dev, 50):.2f}",
            f"{np.percentile(dev, 99):.2f}",
            f"{dev.max():.2f}",
        )
    console.print(table)
    console.print(
        f"plant build {build_s:.1f} s (pandapower's first solve compiles numba); "
        f"max lag reported by the engine {plant.max_lag_s * 1e3:.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=500, help="reads per client and round")
    ap.add_argument("--rounds", type=int, default=10, help="paired rounds")
    ap.add_argument("--clients", default="1,8", help="client counts, comma-separated")
    ap.add_argument("--jitter-s", type=float, default=30.0, help="0: skip the jitter part")
    args = ap.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    bench_throughput(args.requests, args.rounds, [int(c) for c in args.clients.split(",")])
    if args.jitter_s > 0:
        bench_jitter(args.jitter_s)


if __name__ == "__main__":
    main()
