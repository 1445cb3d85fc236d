// SPDX-License-Identifier: GPL-3.0-or-later
// canary's live dashboard (docs/DASHBOARD.md). Reads the admin API with the
// bearer token the person gives once (kept in sessionStorage, for this tab
// only), follows GET /v1/events (Server-Sent Events read with fetch(), so
// the token goes in the Authorization header and never into a URL), and
// draws with chart.js. Everything it loads comes from this server.
"use strict";

const TOKEN_KEY = "canary.token";
const FINAL = new Set(["promoted", "rolled-back", "aborted"]);
const COLORS = { stable: "#2563eb", canary: "#ea580c" };
const MARK = { pass: "#15803d", fail: "#dc2626", marginal: "#b45309", manual: "#6d28d9", trigger: "#dc2626" };
const QUANTILES = [["p50_ms", "p50", null, 2], ["p95_ms", "p95", "6 3", 1.4], ["p99_ms", "p99", "2 2", 1.4]];
const SERIES_KEEP_MS = 60 * 60 * 1000;

const S = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  models: [],
  rollouts: [],
  feedback: null,      // GET /v1/feedback, or null when the server has none
  detail: new Map(),   // rollout id -> {rollout, history, analyses, points, predictions, result}
  open: new Set(),     // ids of past rollouts the person opened
  detailsOpen: new Map(), // key -> open, for each <details> the person toggled
  stream: null,        // AbortController of the event stream
  lastEvent: 0,
  refreshing: false,
};

// ------------------------------------------------------------------ util

// A <details> that stays open or closed as the person left it when the
// page draws again (every few seconds); shut is its state until then.
function details(key, shut, attrs, ...children) {
  const open = S.detailsOpen.has(key) ? S.detailsOpen.get(key) : !shut;
  return h("details", Object.assign({}, attrs, { open: open || null, "data-key": key }), ...children);
}

function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) {
    const v = attrs[k];
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}

const isNum = (v) => typeof v === "number" && isFinite(v);
const fmt = (v) => (isNum(v) ? CanaryChart.fmtNumber(v) : "–");
const pct = (x, d = 1) => (isNum(x) ? (x * 100).toFixed(d) + "%" : "–");
const when = (ms) => (ms ? new Date(ms).toLocaleString() : "–");
function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + S.token }, cache: "no-store" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (res.status === 401) {
    askToken("The server refused this token.");
    throw new ApiError(401, "missing or wrong bearer token");
  }
  if (!res.ok) throw new ApiError(res.status, (data && data.error) || res.status + " " + res.statusText);
  return data;
}

// ------------------------------------------------------------------ token

function askToken(message) {
  stopStream();
  const box = document.getElementById("login");
  const err = document.getElementById("login-error");
  err.hidden = !message;
  err.textContent = message || "";
  box.hidden = false;
  document.getElementById("logout").hidden = true;
  document.getElementById("token").focus();
}

document.getElementById("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  S.token = document.getElementById("token").value.trim();
  if (!S.token) return;
  sessionStorage.setItem(TOKEN_KEY, S.token);
  document.getElementById("login").hidden = true;
  start();
});

document.getElementById("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  S.token = "";
  document.getElementById("token").value = "";
  askToken("");
});

// ------------------------------------------------------------------ data

async function loadRollout(id) {
  const d = S.detail.get(id) || { points: [], predictions: null };
  const since = d.points.length ? d.points[d.points.length - 1].t : 0;
  const [rollout, history, analyses, series] = await Promise.all([
    api("GET", `/v1/rollouts/${id}`),
    api("GET", `/v1/rollouts/${id}/history`),
    api("GET", `/v1/rollouts/${id}/analyses`),
    api("GET", `/v1/series?rollout=${id}&since=${since}`),
  ]);
  d.rollout = rollout;
  d.history = history.entries || [];
  d.analyses = analyses.analyses || [];
  mergePoints(d, series.points || []);
  // the prediction buckets are those of the arms' current versions
  if (!FINAL.has(rollout.state)) d.predictions = series.predictions;
  S.detail.set(id, d);
  return d;
}

function mergePoints(d, points) {
  const last = d.points.length ? d.points[d.points.length - 1].t : 0;
  for (const p of points) if (p.t > last) d.points.push(p);
  const cut = Date.now() - SERIES_KEEP_MS;
  while (d.points.length && d.points[0].t < cut) d.points.shift();
}

// Whether a rollout gets its whole card: active, or the newest of its
// model, or opened by the person.
function shown(r, newest) {
  return !FINAL.has(r.state) || newest || S.open.has(r.id);
}

async function refresh() {
  if (S.refreshing || !S.token) return;
  S.refreshing = true;
  try {
    const [models, rollouts] = await Promise.all([api("GET", "/v1/models"), api("GET", "/v1/rollouts")]);
    S.models = models.models || [];
    S.rollouts = rollouts.rollouts || [];
    if (!S.noFeedback) {
      try {
        S.feedback = await api("GET", "/v1/feedback");
      } catch (e) {
        S.feedback = null;
        // a server without fed metrics (404 before they existed, 503 when
        // none are configured): ask once
        S.noFeedback = e.status === 404 || e.status === 503;
      }
    }
    const seen = new Set();
    const jobs = [];
    for (const r of S.rollouts) {
      const newest = !seen.has(r.model);
      seen.add(r.model);
      if (shown(r, newest)) jobs.push(loadRollout(r.id));
    }
    await Promise.all(jobs);
    banner("");
  } catch (e) {
    if (e.status !== 401) banner("Could not read the admin API: " + e.message);
    return;
  } finally {
    S.refreshing = false;
  }
  render();
}

function banner(text) {
  const b = document.getElementById("banner");
  b.hidden = !text;
  b.textContent = text;
}

// ------------------------------------------------------------------ events

// The badge: "live" while the stream is open, "reconnecting" between
// attempts, "offline" when the page follows no stream (no token).
function setLive(on, text) {
  const e = document.getElementById("live");
  e.className = "live " + (on ? "on" : "off");
  e.textContent = text || (on ? "live" : "reconnecting");
}

function stopStream() {
  if (S.stream) S.stream.abort();
  S.stream = null;
  setLive(false, "offline");
}

// GET /v1/events, parsed as text/event-stream: blocks split by a blank
// line, "event:" and "data:" fields, ":" comments, "retry:" the delay.
async function follow() {
  const ctl = new AbortController();
  S.stream = ctl;
  let retry = 2000;
  while (!ctl.signal.aborted) {
    try {
      const res = await fetch("/v1/events", {
        headers: { Authorization: "Bearer " + S.token, Accept: "text/event-stream" },
        cache: "no-store",
        signal: ctl.signal,
      });
      if (res.status === 401) {
        askToken("The server refused this token.");
        return;
      }
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      setLive(true);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf = (buf + dec.decode(value, { stream: true })).replace(/\r\n?/g, "\n");
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let name = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (!line || line[0] === ":") continue;
            const c = line.indexOf(":");
            const field = c < 0 ? line : line.slice(0, c);
            const val = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
            if (field === "event") name = val;
            else if (field === "data") data.push(val);
            else if (field === "retry" && /^\d+$/.test(val)) retry = Number(val);
          }
          S.lastEvent = Date.now();
          if (data.length) onEvent(name, data.join("\n"));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    setLive(false);
    await sleep(retry);
  }
}

let redrawQueued = false;
function onEvent(name, data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch (e) {
    return;
  }
  if (name === "rollout") {
    refresh();
  } else if (name === "sample" && msg.rollout) {
    const d = S.detail.get(msg.rollout);
    if (!d) {
      refresh(); // a rollout this page has not read yet
      return;
    }
    mergePoints(d, [msg]);
    if (!redrawQueued) {
      redrawQueued = true;
      requestAnimationFrame(() => {
        redrawQueued = false;
        for (const [id, det] of S.detail) drawCharts(id, det);
      });
    }
  }
}

// ------------------------------------------------------------------ actions

const ACTIONS = {
  pause: { label: "Pause", ok: (r) => !FINAL.has(r.state) && r.state !== "paused" && r.state !== "rolling-back" },
  resume: { label: "Resume", ok: (r) => r.state === "paused" || r.state === "holding" },
  // a parity check promotes nothing: it ends by its verdict (or an abort)
  promote: { label: "Promote", ok: (r) => !r.parity && !FINAL.has(r.state) && r.state !== "rolling-back" },
  abort: { label: "Abort", ok: (r) => !FINAL.has(r.state) && r.state !== "rolling-back" },
};

function confirmDialog(title, text) {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-reason").value = "";
  return new Promise((resolve) => {
    dlg.addEventListener("close", function once() {
      dlg.removeEventListener("close", once);
      resolve(dlg.returnValue === "ok" ? document.getElementById("confirm-reason").value.trim() : null);
    });
    dlg.returnValue = "";
    dlg.showModal();
  });
}

async function act(r, action) {
  const what = `${ACTIONS[action].label} rollout #${r.id} (${r.model} ${r.version})?`;
  const reason = await confirmDialog(ACTIONS[action].label, what);
  if (reason === null) return;
  const body = reason ? { reason } : {};
  const d = S.detail.get(r.id);
  try {
    const res = await api("POST", `/v1/rollouts/${r.id}/${action}`, body);
    d.result = { ok: true, text: `${action}: done, now ${res.state || "?"}${res.reason ? " (" + res.reason + ")" : ""}` };
  } catch (e) {
    d.result = { ok: false, text: `${action} refused (HTTP ${e.status || "?"}): ${e.message}` };
  }
  await refresh();
  render();
}

async function parity(model) {
  const reason = await confirmDialog("Parity check",
    `Run an A/A parity check of ${model}: its stable version routed as the canary arm and judged with the same analysis?`);
  if (reason === null) return;
  const body = { model, parity: true };
  if (reason) body.reason = reason;
  let text, ok = true;
  try {
    const res = await api("POST", "/v1/rollouts", body);
    text = `parity check started: rollout #${res.id}`;
  } catch (e) {
    ok = false;
    text = `parity check refused (HTTP ${e.status || "?"}): ${e.message}`;
  }
  S.modelResult = { model, ok, text };
  await refresh();
  render();
}

// ------------------------------------------------------------------ charts

function legend(items) {
  return h("div", { class: "legend" }, items.map(([text, color, dash, dot]) =>
    h("span", {}, h("i", {
      class: dot ? "dot" : null,
      style: dot ? `background:${color}` : `border-top-color:${color};border-top-style:${dash ? "dashed" : "solid"}`,
    }), text)));
}

function markersOf(d) {
  const out = [];
  for (const e of d.history || []) {
    let color = null, label = "", text = e.reason;
    if (e.kind === "analysis") {
      const v = (e.payload && e.payload.verdict) || "";
      color = MARK[v] || MARK.marginal;
      label = "A";
      text = `analysis ${v}: ${e.reason}`;
    } else if (e.kind === "trigger") {
      color = MARK.trigger;
      label = "T";
      text = "trigger: " + e.reason;
    } else if (e.kind === "manual" && e.seq > 1) {
      color = MARK.manual;
      label = "M";
      text = `${e.actor}: ${e.reason}`;
    }
    if (color) out.push({ t: e.time_unix_ms, color, label, text });
  }
  return out;
}

function timeRange(d) {
  const r = d.rollout;
  const end = r.ended_unix_ms || Date.now();
  return [r.started_unix_ms, Math.max(end, r.started_unix_ms + 1000)];
}

function weightChart(d, width) {
  const r = d.rollout;
  const pts = [[r.started_unix_ms, 0]];
  for (const e of d.history || []) pts.push([e.time_unix_ms, e.weight]);
  const range = timeRange(d);
  return CanaryChart.lines({
    width, height: 170, x: range, yMax: Math.max(10, ...pts.map((p) => p[1])),
    yFmt: (v) => fmt(v) + "%", label: "canary weight over time",
    series: [{ name: "canary weight", color: COLORS.canary, step: true, width: 2, points: pts, extendTo: range[1] }],
    markers: markersOf(d),
  });
}

function armSeries(d, key, f) {
  return ["stable", "canary"].map((arm) => ({
    arm,
    points: d.points.map((p) => [p.t, p[arm] ? f(p[arm]) : null]),
  }));
}

function latencyChart(d, width) {
  const series = [];
  for (const [key, name, dash, w] of QUANTILES)
    for (const s of armSeries(d, key, (a) => a[key]))
      series.push({ name: `${s.arm} ${name}`, color: COLORS[s.arm], dash, width: w, points: s.points });
  // a few slow seconds must not flatten the rest: the axis ends at the
  // 98th percentile of the values drawn (x 1.25); those above it are drawn
  // at its top
  const vals = series.flatMap((x) => x.points.map((p) => p[1])).filter(isNum).sort((a, b) => a - b);
  const cap = vals.length ? vals[Math.min(vals.length - 1, Math.floor(vals.length * 0.98))] * 1.25 : undefined;
  return CanaryChart.lines({ width, height: 190, series, x: timeRange(d), yMaxCap: cap,
    yFmt: (v) => fmt(v) + " ms", label: "latency quantiles" });
}

function errorChart(d, width) {
  const series = armSeries(d, "errors", (a) => (a.requests ? a.errors / a.requests : null))
    .map((s) => ({ name: `${s.arm} error rate`, color: COLORS[s.arm], points: s.points, width: 1.6 }));
  return CanaryChart.lines({ width, height: 170, series, x: timeRange(d), yFmt: (v) => pct(v, v < 0.1 ? 1 : 0), label: "error rate" });
}

function rateChart(d, width) {
  const series = armSeries(d, "requests", (a) => a.requests)
    .map((s) => ({ name: `${s.arm} requests/s`, color: COLORS[s.arm], points: s.points, width: 1.6 }));
  return CanaryChart.lines({ width, height: 170, series, x: timeRange(d), label: "requests per second" });
}

// Cumulative "le" counts to shares per bin, trimmed to the bins in use.
function predictionChart(d, width) {
  const p = d.predictions;
  const series = [];
  let bins = [];
  if (p && p.bounds) {
    const b = p.bounds;
    bins = b.map((hi, i) => [i ? b[i - 1] : -Infinity, hi]).concat([[b[b.length - 1], Infinity]]);
    for (const arm of ["stable", "canary"]) {
      const a = p[arm];
      if (!a || !a.count) continue;
      const shares = a.le.map((c, i) => (c - (i ? a.le[i - 1] : 0)) / a.count);
      series.push({ name: `${arm} ${a.version}`, color: COLORS[arm], shares });
    }
    let lo = bins.length, hi = -1;
    for (const s of series)
      s.shares.forEach((v, i) => {
        if (v > 0) {
          lo = Math.min(lo, i);
          hi = Math.max(hi, i);
        }
      });
    if (hi >= 0) {
      lo = Math.max(0, lo - 2);
      hi = Math.min(bins.length - 1, hi + 2);
      bins = bins.slice(lo, hi + 1);
      for (const s of series) s.shares = s.shares.slice(lo, hi + 1);
    }
  }
  const empty = FINAL.has(d.rollout.state) && !p
    ? "the arms' prediction buckets are shown while a rollout runs"
    : "no predictions extracted yet";
  return CanaryChart.histograms({ width, height: 170, bins, series, empty });
}

const CHARTS = [
  ["weight", "Traffic weight, with verdicts (A), triggers (T) and people's actions (M)", weightChart, true],
  ["latency", "Latency per second: p50 (solid), p95 (dashed), p99 (dotted); spikes cut at the top", latencyChart, false],
  ["errors", "Error rate per second (failures and 5xx)", errorChart, false],
  ["rate", "Requests per second", rateChart, false],
  ["predictions", "Prediction distribution (share of responses per bucket)", predictionChart, false],
];

function chartLegend(kind, d) {
  const arms = [["stable " + (d.rollout.baseline || ""), COLORS.stable], ["canary " + d.rollout.version, COLORS.canary]];
  if (kind === "weight")
    return legend([["canary weight", COLORS.canary], ["pass", MARK.pass, 0, 1], ["fail / trigger", MARK.fail, 0, 1],
      ["marginal", MARK.marginal, 0, 1], ["manual", MARK.manual, 0, 1]]);
  if (kind === "predictions" && d.predictions) {
    const out = [];
    for (const arm of ["stable", "canary"]) {
      const a = d.predictions[arm];
      if (a) out.push([`${arm} ${a.version} (n=${a.count})`, COLORS[arm]]);
    }
    return legend(out);
  }
  return legend(arms);
}

function drawCharts(id, d) {
  const card = document.querySelector(`.card[data-rollout-id="${id}"]`);
  if (!card || !d.rollout) return;
  for (const box of card.querySelectorAll(".chart-box.fed")) {
    const plot = box.querySelector(".plot");
    plot.replaceChildren(CanaryChart.intervals({
      width: Math.floor(plot.clientWidth || 560), rows: JSON.parse(box.dataset.rows || "[]"), colors: COLORS,
    }));
  }
  for (const [kind, , draw] of CHARTS) {
    const box = card.querySelector(`.chart-box[data-chart="${kind}"] .plot`);
    if (!box) continue;
    const width = Math.floor(box.clientWidth || 560);
    box.replaceChildren(draw(d, width));
  }
}

// ------------------------------------------------------------------ render

function stateBadge(state) {
  return h("span", { class: "badge state " + state, "data-state": state }, state);
}

function fact(label, value, extra) {
  return h("div", { class: "fact" }, h("div", { class: "muted" }, label), h("div", { class: "v" }, value), extra || null);
}

function samplesFact(r) {
  const s = r.samples;
  if (!s) return fact("Samples", "–", h("div", { class: "muted" }, "counted while the rollout runs"));
  const have = Math.min(s.stable, s.canary);
  const need = s.needed || 0;
  const share = need ? Math.min(1, have / need) : 1;
  return fact("Samples (fewer arm) / needed", `${fmt(have)} / ${need ? fmt(need) : "–"}`,
    h("div", {},
      h("div", { class: "bar" }, h("span", { style: `width:${(share * 100).toFixed(1)}%` })),
      h("div", { class: "muted" }, `stable ${fmt(s.stable)}, canary ${fmt(s.canary)}` +
        (s.per_minute ? `, +${fmt(s.per_minute)}/min` : ""))));
}

function blastFact(r) {
  const b = r.blast_radius;
  let f;
  if (b)
    f = fact("Blast radius", `${fmt(b.canary_requests)} canary requests`,
      h("div", { class: "muted" }, `${fmt(b.canary_failed)} failed, ${pct(b.share, 1)} of all traffic`));
  else if (r.canary_served !== undefined)
    f = fact("Blast radius", `${fmt(r.canary_served)} canary requests`, h("div", { class: "muted" }, "since the rollout began"));
  else
    f = fact("Blast radius", "–");
  f.dataset.fact = "blast";
  return f;
}

function reasonsList(r, d) {
  const items = [];
  if (r.reason) items.push(h("li", {}, r.hold ? `holding (${r.hold}): ${r.reason}` : r.reason));
  if (r.last_verdict)
    for (const t of r.last_verdict.reasons || [])
      items.push(h("li", { class: r.last_verdict.verdict }, `last verdict ${r.last_verdict.verdict}: ${t}`));
  for (const t of r.triggers || []) {
    const obs = t.ran ? `observed ${fmt(t.observed)} vs limit ${fmt(t.limit)}` : `limit ${fmt(t.limit)}, not checked yet`;
    items.push(h("li", { class: t.fired ? "fired" : null }, `trigger ${t.check}: ${t.fired ? "FIRED, " : ""}${obs}`));
  }
  if (r.sequential)
    for (const m of r.sequential.metrics || [])
      items.push(h("li", {}, `sequential ${m.metric}: e-value ${fmt(m.e_value)} of ${fmt(r.sequential.threshold)} needed to stop`));
  if (r.p99_ms) {
    const parts = ["stable", "canary"].filter((a) => r.p99_ms[a]).map((a) =>
      `${a} [${fmt(r.p99_ms[a][0])}, ${fmt(r.p99_ms[a][1])}] ms`);
    items.push(h("li", {}, "p99 in this window: " + parts.join(", ")));
  }
  return h("ul", { class: "reasons" }, items.length ? items : h("li", { class: "muted" }, "no reason recorded"));
}

function metricRow(m) {
  const cls = [m.classification, m.segment !== null && m.segment !== undefined ? "segment" : ""].join(" ");
  const ci = m.ci ? `[${fmt(m.ci[0])}, ${fmt(m.ci[1])}]` : "";
  return h("tr", { class: cls, "data-metric": m.name, "data-segment": m.segment || "" },
    h("td", {}, m.name),
    h("td", {}, m.segment === null || m.segment === undefined ? "all" : m.segment),
    h("td", {}, m.test),
    h("td", {}, h("span", { class: "badge " + m.classification }, m.classification)),
    h("td", { class: "num" }, `${fmt(m.effect)} ${ci}`),
    h("td", { class: "num" }, m.margin !== undefined ? fmt(m.margin) : ""),
    h("td", { class: "num" }, isNum(m.adjusted_pvalue_harm) ? m.adjusted_pvalue_harm.toPrecision(2) : "–"),
    h("td", { class: "num" }, `${fmt(m.n_canary)} / ${fmt(m.n_stable)}`),
    h("td", { class: "reason" }, m.reason || ""));
}

function analysisBlock(r, a, newest) {

  const res = a.result || {};
  const metrics = res.metrics || [];
  const failing = metrics.filter((m) => m.classification === "fail");
  const segs = failing.filter((m) => m.segment !== null && m.segment !== undefined);
  const table = h("div", { class: "tablewrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ["metric", "segment", "test", "result", "effect [CI]", "margin", "p (harm, adj.)",
      "n canary / stable", "reason"].map((t) => h("th", {}, t)))),
    h("tbody", {}, metrics.map(metricRow))));
  return details(`analysis:${r.id}:${a.seq}`, !newest, { class: "analysis" },
    h("summary", {}, h("span", { class: "badge " + res.verdict }, res.verdict || "?"),
      ` step ${res.step ?? a.step}, attempt ${res.attempt ?? "?"}, score ${res.score !== undefined ? fmt(res.score) : "–"} · ${when(a.time_unix_ms)}`),
    h("p", {}, res.reason || a.reason),
    segs.length ? h("p", { class: "failing" }, "Failing segment" + (segs.length > 1 ? "s" : "") + ": " +
      segs.map((m) => `${m.segment} (${m.name})`).join(", ")) : null,
    failing.length && !segs.length ? h("p", { class: "failing" }, "Failing: " + failing.map((m) => m.name).join(", ")) : null,
    table);
}

// GET /v1/feedback: {"metrics": {name: kind}, "items": {accepted, ...},
// "cells": [{role, version, segment, NAME: {n, value, ci_low, ci_high}}]}.
// Each fed metric gets a table of its cells and a chart of the intervals,
// stable against canary per segment. Another shape is shown as it is.
function feedbackBlock(r) {
  const f = S.feedback;
  if (!f) return h("p", { class: "muted" }, "No fed metrics on this server (POST /v1/feedback).");
  if (FINAL.has(r.state)) return h("p", { class: "muted" }, "Fed metrics are shown for the running rollout.");
  if (!Array.isArray(f.cells))
    return h("pre", { class: "muted" }, JSON.stringify(f, null, 1).slice(0, 2000));
  const names = [];
  for (const c of f.cells)
    for (const k in c)
      if (c[k] && typeof c[k] === "object" && "n" in c[k] && !names.includes(k)) names.push(k);
  const items = f.items ? Object.entries(f.items).map(([k, v]) => `${k} ${fmt(v)}`).join(", ") : "";
  const out = [h("p", { class: "muted" }, `feedback items: ${items || "none"}` +
    (isNum(f.ttl_s) ? ` · joined within ${fmt(f.ttl_s)} s` : "") + (f.step ? ` · step ${f.step}` : ""))];
  if (!names.length) out.push(h("p", { class: "muted" }, "No feedback joined in this step yet."));
  for (const name of names) {
    const rows = f.cells.filter((c) => c[name]);
    const kind = f.metrics && f.metrics[name] ? ` (${f.metrics[name]})` : "";
    const box = h("div", { class: "chart-box fed", "data-fed": name },
      h("h4", {}, name + kind), legend([["stable", COLORS.stable], ["canary", COLORS.canary]]),
      h("div", { class: "plot" }));
    box.dataset.rows = JSON.stringify(rows.filter((c) => isNum(c[name].value)).map((c) => ({
      label: c.segment || "all", arm: c.role, value: c[name].value,
      lo: isNum(c[name].ci_low) ? c[name].ci_low : c[name].value,
      hi: isNum(c[name].ci_high) ? c[name].ci_high : c[name].value, n: c[name].n,
    })));
    out.push(box, h("div", { class: "tablewrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["arm", "version", "segment", "n", name, "95% interval"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map((c) => h("tr", {},
        h("td", {}, c.role), h("td", {}, c.version), h("td", {}, c.segment || "all"),
        h("td", { class: "num" }, fmt(c[name].n)), h("td", { class: "num" }, fmt(c[name].value)),
        h("td", { class: "num" }, isNum(c[name].ci_low) ? `[${fmt(c[name].ci_low)}, ${fmt(c[name].ci_high)}]` : "–")))))));
  }
  return h("div", {}, out);
}

function trailBlock(d) {
  const r = d.rollout;
  const det = details(`trail:${r.id}`, true, { class: "trail" },
  h("summary", {}, `Audit trail (${(d.history || []).length} entries)`),
  h("div", { class: "tablewrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ["#", "time", "kind", "actor", "state", "step", "weight", "reason"].map((t) => h("th", {}, t)))),
    h("tbody", {}, (d.history || []).slice().reverse().map((e) => h("tr", {},
      h("td", { class: "num" }, e.seq), h("td", { class: "num" }, CanaryChart.fmtTime(e.time_unix_ms)),
      h("td", {}, e.kind), h("td", {}, e.actor), h("td", {}, e.state), h("td", { class: "num" }, e.step),
      h("td", { class: "num" }, e.weight + "%"), h("td", { class: "reason" }, e.reason)))))));
  return det;
}

function rolloutCard(d) {
  const r = d.rollout;
  const controls = h("div", { class: "controls" }, Object.keys(ACTIONS).map((a) =>
    h("button", { type: "button", "data-action": a, "data-id": r.id, disabled: !ACTIONS[a].ok(r) || null },
      ACTIONS[a].label)));
  const steps = r.steps ? `step ${Math.min(r.step + 1, r.steps)} of ${r.steps}` : `step ${r.step}`;
  const card = h("section", { class: "card", "data-rollout-id": r.id, "data-state": r.state },
    h("header", {},
      h("span", { class: "title" }, `#${r.id} ${r.model} ${r.version}`),
      h("span", { class: "muted" }, `against ${r.baseline || "?"}`),
      stateBadge(r.state),
      r.dry_run ? h("span", { class: "badge" }, "dry run") : null,
      r.parity ? h("span", { class: "badge" }, "parity") : null,
      r.parity_check ? h("span", { class: "badge parity-" + r.parity_check.result }, r.parity_check.result) : null,
      FINAL.has(r.state) ? null : controls),
    d.result ? h("p", { class: "result" + (d.result.ok ? "" : " bad"), role: "status" }, d.result.text) : null,
    r.parity_warning ? h("p", { class: "result bad parity-warning", role: "alert" }, r.parity_warning.message) : null,
    r.parity_check ? h("p", { class: "muted" }, `Parity (A/A) check: stable's version ${r.version} as ${r.parity_check.label} on ` +
      `${(r.parity_check.addresses || []).join(", ")} at ${r.parity_check.weight}% for ${fmt(r.parity_check.duration_s)} s; ` +
      "judged both ways: passed when the arms are equivalent within every margin, failed when they differ.") : null,
    h("div", { class: "facts" },
      fact("Canary weight", r.weight + "%", h("div", { class: "muted" }, steps +
        (r.time_in_step_s ? `, ${fmt(r.time_in_step_s)} s in this step` : ""))),
      samplesFact(r),
      blastFact(r),
      fact("Started", ago(r.started_unix_ms), h("div", { class: "muted" },
        `${when(r.started_unix_ms)} by ${r.created_by}` + (r.ended_unix_ms ? `, ended ${ago(r.ended_unix_ms)}` : "")))),
    h("h4", {}, "Why it is where it is"),
    reasonsList(r, d),
    h("div", { class: "charts" }, CHARTS.map(([kind, title, , wide]) =>
      h("div", { class: "chart-box" + (wide ? " wide" : ""), "data-chart": kind },
        h("h4", {}, title), chartLegend(kind, d), h("div", { class: "plot" })))),
    h("h4", { style: "margin-top:0.75rem" }, `Analyses (${d.analyses.length}), per metric and segment`),
    d.analyses.length ? d.analyses.slice().reverse().map((a, i) => analysisBlock(r, a, i === 0))
      : h("p", { class: "muted" }, "No analysis has run yet."),
    details(`feedback:${r.id}`, !S.feedback || FINAL.has(r.state), { class: "feedback" },
      h("summary", {}, "Fed metrics (delayed feedback)"), feedbackBlock(r)),
    trailBlock(d));
  return card;
}

function pastRow(r) {
  return h("li", {}, h("a", { href: "#", "data-open": r.id }, `#${r.id} ${r.version}`), stateBadge(r.state), h("span", { class: "muted" }, `${when(r.started_unix_ms)} · ${r.reason}`));
}

// Bring the page's nodes to the new tree, touching only what changed: a
// node equal to its new version stays (with its listeners), so a button
// the person is about to press, a table they scroll or text they select
// survives the redraw every few seconds. Charts are drawn afresh after.
//
// So no listener sits on a drawn node (a node kept for a rollout that
// moved to another place in the list would keep its old one): clicks and
// toggles are read at the document from the nodes' data attributes.
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-action], a[data-open]");
  if (!b || b.disabled) return;
  if (b.dataset.open) {
    ev.preventDefault();
    const id = Number(b.dataset.open);
    S.open.add(id);
    loadRollout(id).then(render);
  } else if (b.dataset.action === "parity") {
    parity(b.dataset.model);
  } else if (ACTIONS[b.dataset.action]) {
    const d = S.detail.get(Number(b.dataset.id));
    if (d && d.rollout) act(d.rollout, b.dataset.action);
  }
});
document.addEventListener("toggle", (ev) => {
  const key = ev.target.dataset && ev.target.dataset.key;
  if (key) S.detailsOpen.set(key, ev.target.open);
}, true);

function morphChildren(parent, fresh) {
  const old = [...parent.childNodes];
  if (old.length !== fresh.length) {
    parent.replaceChildren(...fresh);
    return;
  }
  old.forEach((o, i) => morph(parent, o, fresh[i]));
}

function morph(parent, o, n) {
  if (o.isEqualNode(n)) return;
  if (o.nodeType !== 1 || n.nodeType !== 1 || o.nodeName !== n.nodeName ||
      o.classList.contains("plot")) {
    parent.replaceChild(n, o);
    return;
  }
  for (const a of [...o.attributes]) if (!n.hasAttribute(a.name)) o.removeAttribute(a.name);
  for (const a of [...n.attributes]) if (o.getAttribute(a.name) !== a.value) o.setAttribute(a.name, a.value);
  morphChildren(o, [...n.childNodes]);
}

function render() {
  const root = document.getElementById("models");
  const scroll = window.scrollY;
  const names = S.models.map((m) => m.name);
  for (const r of S.rollouts) if (!names.includes(r.model)) names.push(r.model);
  const out = [];
  if (!names.length) out.push(h("p", { class: "muted" }, "No model is registered yet."));
  for (const name of names) {
    const m = S.models.find((x) => x.name === name) || { name };
    const mine = S.rollouts.filter((r) => r.model === name);
    const cards = [], past = [];
    mine.forEach((r, i) => {
      const d = S.detail.get(r.id);
      if (d && d.rollout && shown(r, i === 0)) cards.push(rolloutCard(d));
      else past.push(pastRow(r));
    });
    const res = S.modelResult && S.modelResult.model === name ? S.modelResult : null;
    out.push(h("section", { class: "model", "data-model": name },
      h("header", {}, h("h2", {}, name),
        h("span", { class: "muted" }, `stable ${m.stable || "–"}` + (m.candidate ? `, candidate ${m.candidate}` : "") +
          (m.version_count !== undefined ? `, ${m.version_count} versions` : "")),
        h("button", { type: "button", "data-action": "parity", "data-model": name }, "Parity check")),
      res ? h("p", { class: "result" + (res.ok ? "" : " bad"), role: "status" }, res.text) : null,
      cards.length ? cards : h("p", { class: "muted" }, "No rollout to show."),
      past.length ? details(`past:${name}`, true, {}, h("summary", {}, `Earlier rollouts (${past.length})`), h("ul", { class: "past" }, past)) : null));
  }
  morphChildren(root, out);
  for (const [id, d] of S.detail) drawCharts(id, d);
  window.scrollTo(0, scroll);
  document.body.dataset.rendered = String(Date.now());
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const [id, d] of S.detail) drawCharts(id, d);
  }, 150);
});

// ------------------------------------------------------------------ start

let ticker = null;
function start() {
  document.getElementById("logout").hidden = false;
  refresh().then(() => {
    if (!S.stream && S.token) follow();
  });
  // the live view of each rollout (samples, triggers) changes every second
  // without a transition: read it again every 5 s
  if (!ticker) ticker = setInterval(refresh, 5000);
}

if (S.token) start();
else askToken("");
