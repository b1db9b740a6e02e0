"""The bench's live page: `twin hil serve --dashboard` serves it on loopback.

Starlette on uvicorn, in a thread of the bench's process; the page gets the plant's
state as server-sent events (one JSON snapshot at most every `push_s` of wall clock) and
draws it with uPlot (vendored under ``hil/static``, MIT): every asset comes from the
bench, nothing from a CDN. The plant's step hook only copies a few numbers under a lock
(no JSON, no I/O in the plant's thread), so a page open does not slow the plant.

Fault injection from the page is refused unless the bench was started with
``allow_faults`` and the request carries the token printed at start (as Jupyter does).
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import threading
import time
from importlib import resources
from typing import Any

from hil.bench import Bench
from hil.faults import UNIT_FAULTS, BenchFault
from hil.plant import PlantSample
from parktwin.errors import InputError
from parktwin.limits import grid_limits
from parktwin.pcs_states import PcsState
from parktwin.tariff_periods import PERIOD_CODES

STATIC = ("uPlot.iife.min.js", "uPlot.min.css", "dashboard.js", "dashboard.css")
"""The page's assets, served from ``hil/static``."""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""How the browser tests and bench/bench_dashboard.py start Debian's Chromium: headless,
offline (no background, component or sync traffic)."""

_TYPES = {".js": "text/javascript", ".css": "text/css"}


def _finite(x: float) -> float | None:
    """`x`, or None (JSON null: a gap in the chart) when it is not a number."""
    return float(x) if math.isfinite(x) else None


class Dashboard:
    """The live page of one bench: snapshots from the plant's steps, served over HTTP."""

    def __init__(
        self,
        bench: Bench,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_faults: bool = False,
        push_s: float = 0.2,
    ) -> None:
        self.bench = bench
        self.host = host
        self.port = port
        self.allow_faults = allow_faults
        self.token = secrets.token_urlsafe(16)
        self.push_s = push_s
        self._lock = threading.Lock()
        self._snap: dict[str, Any] | None = None
        self._seq = 0
        self._server = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._seen: dict[int, tuple[int, int, float]] = {}  # unit id -> reads, writes, when
        bench.plant.add_step_hook(self._on_step)

    # -- the plant's thread: copy a few numbers, nothing else ------------------------------
    def _on_step(self, s: PlantSample) -> None:
        b = self.bench
        snap = {
            "t_s": float(s.t_s),
            "period": int(b.site.values.get("period_code", s.period)),
            "price": float(b.site.values.get("price_yuan_per_kwh", 0.0)),
            "ambient_c": float(s.ambient_c),
            "units": [
                {
                    "name": u.name,
                    "soc": float(s.soc[i]),
                    "soh": float(s.soh[i]),
                    "p_kw": float(s.p_ac_kw[i]),
                    "p_set_kw": float(s.p_set_kw[i]),
                    "q_kvar": float(s.q_ac_kvar[i]),
                    "q_set_kvar": float(getattr(u, "q_cmd_kvar", 0.0)),
                    "state": PcsState(int(s.pcs_state[i])).name,
                    "temp_c": float(s.temp_c[i]),
                    "link_up": bool(u.link_up),
                    "reverted": bool(u.reverted),
                }
                for i, u in enumerate(b.units)
            ],
            "meters": [{"name": m.name, "import_kw": float(m.shown_kw)} for m in b.meters],
            "v_min_pu": _finite(s.v_min_pu),
            "v_max_pu": _finite(s.v_max_pu),
        }
        with self._lock:
            self._snap = snap
            self._seq += 1

    def activity(self) -> list[dict[str, Any]]:
        """Reads and writes per second per device since the last call, and the last writer."""
        ep = self.bench.endpoint
        now = time.monotonic()
        if ep is None:
            return []
        out = []
        for uid, a in ep.activity.items():
            r0, w0, t0 = self._seen.get(uid, (a.reads, a.writes, now))
            dt_s = max(now - t0, 1e-3)
            out.append(
                {
                    "device": self.bench.devices[uid].name,
                    "unit_id": uid,
                    "reads_per_s": (a.reads - r0) / dt_s if now > t0 else 0.0,
                    "writes_per_s": (a.writes - w0) / dt_s if now > t0 else 0.0,
                    "last_writer": a.last_writer,
                }
            )
            self._seen[uid] = (a.reads, a.writes, now)
        return out

    def snapshot(self) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            return self._seq, self._snap

    # -- the page ------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        c = self.bench.config
        lim = grid_limits()
        return {
            "v_band_pu": [lim.v_min_pu, lim.v_max_pu],
            "units": [u.name for u in self.bench.units],
            "meters": [m.name for m in self.bench.meters],
            "export_margin_kw": c.export_margin_kw,
            "demand_target_kw": c.demand_target_kw,
            "allow_faults": self.allow_faults,
            "fault_kinds": list(UNIT_FAULTS),
            "periods": list(PERIOD_CODES),  # names by code
        }

    def inject(self, body: dict[str, Any]) -> tuple[int, str]:
        """A fault from the page: (HTTP status, message)."""
        if not self.allow_faults:
            return 403, "fault injection is off (start the bench with --allow-faults)"
        if not secrets.compare_digest(str(body.get("token", "")), self.token):
            return 403, "wrong or missing token (printed when the bench started)"
        try:
            f = BenchFault(
                kind=body.get("kind"),
                target=str(body.get("target", "")),
                duration_s=body.get("duration_s") or None,
            )
            self.bench.inject(f)
        except (InputError, ValueError) as exc:
            return 400, str(exc).splitlines()[0]
        self.bench.log.add(f.target, "dashboard", f"fault {f.kind} requested from the page")
        return 200, f"{f.kind} on {f.target}"

    def app(self):
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response, StreamingResponse
        from starlette.routing import Route

        static = resources.files("hil") / "static"

        async def page(_: Request) -> Response:
            return Response((static / "dashboard.html").read_text("utf-8"), media_type="text/html")

        async def asset(req: Request) -> Response:
            name = req.path_params["name"]
            if name not in STATIC:
                return Response("not found", status_code=404)
            suffix = name[name.rindex(".") :]
            return Response((static / name).read_bytes(), media_type=_TYPES[suffix])

        async def config(_: Request) -> Response:
            return JSONResponse(self.config())

        async def stream(req: Request) -> Response:
            async def events():
                seen_seq, seen_ev = -1, 0
                while not self._closing and not await req.is_disconnected():
                    seq, snap = self.snapshot()
                    evs = self.bench.log.events
                    n = len(evs)
                    if seq != seen_seq and snap is not None:
                        new = [
                            {"t_s": e.t_s, "device": e.device, "kind": e.kind, "detail": e.detail}
                            for e in evs[seen_ev:n]
                            if e.kind != "write"
                        ]
                        writes = sum(1 for e in evs[seen_ev:n] if e.kind == "write")
                        seen_seq, seen_ev = seq, n
                        msg = {
                            **snap,
                            "events": new[-200:],
                            "writes": writes,
                            "activity": self.activity(),
                        }
                        yield f"data: {json.dumps(msg)}\n\n"
                    await asyncio.sleep(self.push_s)

            return StreamingResponse(
                events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
            )

        async def fault(req: Request) -> Response:
            try:
                body = await req.json()
            except ValueError:
                return JSONResponse({"error": "body: expected JSON"}, status_code=400)
            code, msg = self.inject(body if isinstance(body, dict) else {})
            return JSONResponse({"ok" if code == 200 else "error": msg}, status_code=code)

        return Starlette(
            routes=[
                Route("/", page),
                Route("/static/{name}", asset),
                Route("/config", config),
                Route("/stream", stream),
                Route("/fault", fault, methods=["POST"]),
            ]
        )

    # -- the HTTP server's thread ----------------------------------------------------------
    def start(self) -> int:
        """Serve the page in a thread; returns the bound port."""
        import uvicorn

        cfg = uvicorn.Config(
            self.app(),
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,  # an open page's stream must not hold the bench up
        )
        self._server = uvicorn.Server(cfg)
        self._thread = threading.Thread(target=self._server.run, name="dashboard", daemon=True)
        self._thread.start()
        t_end = time.monotonic() + 10.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > t_end:
                raise InputError(
                    f"--http-port: cannot serve the dashboard on {self.host}:{self.port}"
                )
            time.sleep(0.02)
        sock = self._server.servers[0].sockets[0]
        self.port = int(sock.getsockname()[1])
        return self.port

    def stop(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5.0)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"
