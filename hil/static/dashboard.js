// The bench's live page: snapshots over server-sent events (/stream), charts by uPlot.
"use strict";
const KEEP = 600; // points kept per chart (2 minutes at 5 pushes a second)
const BANDS = ["#cfe8cf", "#e3f1e3", "#f4f4f4", "#fde2c8", "#f9c2c2"]; // by period code
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

// the tariff period of every point, drawn as bands behind the series
function bands(c) {
  return (u) => {
    const x = c.data[0], ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
    for (let k = 0; k < x.length; k++) {
      const a = u.valToPos(x[k], "x", true);
      const b = k + 1 < x.length ? u.valToPos(x[k + 1], "x", true) : u.bbox.left + u.bbox.width;
      ctx.fillStyle = BANDS[c.period[k]] || "#fff";
      ctx.fillRect(a, top, b - a + 1, h);
    }
  };
}

function chart(el, series, width) {
  const c = {data: [[]].concat(series.map(() => [])), period: []};
  const opts = {
    width: width, height: 200, legend: {show: true},
    scales: {x: {time: false}},
    axes: [{label: "plant time, s"}, {}],
    series: [{label: "t s"}].concat(series.map((x) => Object.assign({points: {show: false}}, x))),
    cursor: {show: false},
    hooks: {drawClear: [bands(c)]},
  };
  c.plot = new uPlot(opts, c.data, el);
  return c;
}

function push(c, x, period, ys) {
  c.data[0].push(x);
  c.period.push(period);
  ys.forEach((y, k) => c.data[k + 1].push(y));
  if (c.data[0].length > KEEP) {
    c.data.forEach((a) => a.shift());
    c.period.shift();
  }
  c.plot.setData(c.data);
}

async function main() {
  const cfg = await (await fetch("/config")).json();
  const width = Math.min(document.querySelector("main").clientWidth, 1200) - 20;
  const socSeries = cfg.units.map((u, i) => ({label: u, stroke: COLORS[i % 8]}));
  const pSeries = [];
  cfg.units.forEach((u, i) => {
    pSeries.push({label: u + " P", stroke: COLORS[i % 8]});
    pSeries.push({label: u + " set", stroke: COLORS[i % 8], dash: [6, 4]});
  });
  const mSeries = cfg.meters.map((m, j) => ({label: m, stroke: COLORS[j % 8]}));
  mSeries.push({label: "anti-backflow", stroke: "#d00"});
  mSeries.push({label: "margin", stroke: "#d00", dash: [4, 4]});
  const lines = [0, cfg.export_margin_kw];
  if (cfg.demand_target_kw > 0) {
    mSeries.push({label: "demand target", stroke: "#a0a", dash: [8, 4]});
    lines.push(cfg.demand_target_kw);
  }
  const vSeries = [{label: "lowest bus", stroke: "#1f77b4"}, {label: "highest bus", stroke: "#d62728"},
    {label: "band low", stroke: "#d00", dash: [4, 4]}, {label: "band high", stroke: "#d00", dash: [4, 4]}];
  const charts = {
    soc: chart(document.getElementById("chart-soc"), socSeries, width),
    p: chart(document.getElementById("chart-p"), pSeries, width),
    meter: chart(document.getElementById("chart-meter"), mSeries, width),
    v: chart(document.getElementById("chart-v"), vSeries, width),
  };
  window.bench = {cfg: cfg, charts: charts, snapshots: 0, last: null};

  if (cfg.allow_faults) setupFaults(cfg);

  const src = new EventSource("/stream");
  src.onmessage = (ev) => {
    const s = JSON.parse(ev.data);
    window.bench.snapshots += 1;
    window.bench.last = s;
    push(charts.soc, s.t_s, s.period, s.units.map((u) => u.soc));
    const ps = [];
    s.units.forEach((u) => { ps.push(u.p_kw); ps.push(u.p_set_kw); });
    push(charts.p, s.t_s, s.period, ps);
    push(charts.meter, s.t_s, s.period, s.meters.map((m) => m.import_kw).concat(lines));
    push(charts.v, s.t_s, s.period, [s.v_min_pu, s.v_max_pu].concat(cfg.v_band_pu));
    render(s, cfg);
  };
}

function render(s, cfg) {
  document.getElementById("clock").textContent = "plant time " + s.t_s.toFixed(1) + " s";
  const per = document.getElementById("period");
  per.textContent = (cfg.periods[s.period] || s.period) + " " + s.price.toFixed(4) + " yuan/kWh";
  per.className = "period p" + s.period;
  window.bench.writes = (window.bench.writes || 0) + s.writes;
  document.getElementById("writes").textContent = window.bench.writes + " writes accepted";
  const vNow = document.getElementById("v-now");
  if (s.v_min_pu === null) {
    vNow.textContent = "the plant solves no power flow";
  } else {
    const [lo, hi] = cfg.v_band_pu;
    const inside = s.v_min_pu >= lo && s.v_max_pu <= hi;
    vNow.textContent = "now " + s.v_min_pu.toFixed(4) + " .. " + s.v_max_pu.toFixed(4) + " p.u., band "
      + lo.toFixed(2) + " .. " + hi.toFixed(2) + (inside ? ": inside" : ": OUTSIDE");
    vNow.className = inside ? "inside" : "outside";
  }
  const tb = document.querySelector("#units tbody");
  tb.replaceChildren(...s.units.map((u) => {
    const tr = document.createElement("tr");
    const cells = [u.name, u.state, u.soc.toFixed(3), u.p_kw.toFixed(0) + " (" + u.p_set_kw.toFixed(0) + ")",
      u.q_kvar.toFixed(0) + " (" + u.q_set_kvar.toFixed(0) + ")", u.temp_c.toFixed(1),
      s.ambient_c.toFixed(1), u.soh.toFixed(3), u.link_up ? (u.reverted ? "up, reverted" : "up") : "LOST"];
    cells.forEach((c, k) => {
      const td = document.createElement("td");
      td.textContent = c;
      if (k === 1) td.className = u.state;
      tr.appendChild(td);
    });
    tr.dataset.unit = u.name;
    return tr;
  }));
  // register activity: only devices that were asked something, busiest first
  const act = s.activity.filter((a) => a.reads_per_s > 0 || a.writes_per_s > 0 || a.last_writer)
    .sort((a, b) => (b.reads_per_s + b.writes_per_s) - (a.reads_per_s + a.writes_per_s));
  document.querySelector("#activity tbody").replaceChildren(...act.map((a) => {
    const tr = document.createElement("tr");
    tr.dataset.device = a.device;
    [a.device, a.unit_id, a.reads_per_s.toFixed(1), a.writes_per_s.toFixed(1), a.last_writer || "-"]
      .forEach((c) => { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
    return tr;
  }));
  const log = document.getElementById("log");
  for (const e of s.events) {
    const li = document.createElement("li");
    li.className = e.kind;
    li.textContent = "t=" + e.t_s.toFixed(1) + " s  " + e.kind + "  " + e.device + ": " + e.detail;
    log.prepend(li);
  }
  while (log.children.length > 500) log.removeChild(log.lastChild);
}

function setupFaults(cfg) {
  document.getElementById("faults").hidden = false;
  const kind = document.getElementById("fault-kind");
  cfg.fault_kinds.forEach((k) => kind.add(new Option(k, k)));
  const target = document.getElementById("fault-target");
  cfg.units.forEach((u) => target.add(new Option(u, u)));
  document.getElementById("fault-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {kind: kind.value, target: target.value,
      token: document.getElementById("fault-token").value};
    const d = document.getElementById("fault-duration").value;
    if (d) body.duration_s = Number(d);
    if (!window.confirm("Inject " + body.kind + " on " + body.target + "? It trips the unit.")) return;
    const r = await fetch("/fault", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)});
    const j = await r.json();
    document.getElementById("fault-result").textContent = j.ok || ("refused: " + j.error);
  });
}

main();
