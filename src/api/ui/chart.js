// SPDX-License-Identifier: GPL-3.0-or-later
// canary's charts: a small SVG renderer with no dependency (docs/DASHBOARD.md).
// Two kinds: lines over time (with gaps, step lines and event markers) and
// overlaid histograms. Each returns an <svg> sized to the width given; the
// page draws again when the window is resized. Tooltips are SVG <title>s.
"use strict";

const CanaryChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PAD = { left: 46, right: 10, top: 12, bottom: 22 };

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function title(parent, text) {
    const t = el("title", {}, parent);
    t.textContent = text;
  }

  // About n "nice" ticks covering [lo, hi] (1, 2, 5 times a power of ten).
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) hi = lo + 1;
    const raw = (hi - lo) / Math.max(1, n);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / p;
    const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }

  function fmtNumber(v) {
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 100) return v.toFixed(0);
    if (a >= 1) return v.toFixed(a >= 10 ? 1 : 2).replace(/\.?0+$/, "");
    if (a === 0) return "0";
    return v.toPrecision(2).replace(/\.?0+$/, "");
  }

  function fmtTime(ms) {
    const d = new Date(ms);
    const p = (x) => String(x).padStart(2, "0");
    return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }

  // Lines over time.
  //   opts.width, opts.height
  //   opts.series: [{name, color, dash, width, step, points: [[t_ms, y|null]]}]
  //   opts.x: [t0, t1] (default: the data's range)
  //   opts.yMin (default 0), opts.yMax (default: the data's max), opts.yFmt,
  //   opts.yMaxCap (the axis ends there at most; higher values at its top)
  //   opts.markers: [{t, color, label, text}] drawn as vertical lines
  //   opts.empty: text shown when no series has a point
  function lines(opts) {
    const W = Math.max(200, opts.width || 600), H = opts.height || 180;
    const svg = el("svg", {
      width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    });
    if (opts.label) svg.setAttribute("aria-label", opts.label);
    let t0 = Infinity, t1 = -Infinity, yMax = -Infinity;
    let npoints = 0;
    for (const s of opts.series)
      for (const [t, y] of s.points) {
        if (t < t0) t0 = t;
        if (t > t1) t1 = t;
        if (y !== null && y !== undefined && isFinite(y)) {
          npoints++;
          if (y > yMax) yMax = y;
        }
      }
    if (opts.x) [t0, t1] = opts.x;
    if (npoints === 0 || !(t1 > t0)) {
      const tx = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, svg);
      tx.textContent = opts.empty || "no data yet";
      return svg;
    }
    const yMin = opts.yMin !== undefined ? opts.yMin : 0;
    if (opts.yMax !== undefined) yMax = Math.max(opts.yMax, yMax);
    if (opts.yMaxCap > 0) yMax = Math.min(opts.yMaxCap, yMax);
    if (!(yMax > yMin)) yMax = yMin + 1;
    const ticks = niceTicks(yMin, yMax * 1.05, 4);
    yMax = Math.max(yMax, ticks[ticks.length - 1]);
    const x0 = PAD.left, x1 = W - PAD.right, y0 = H - PAD.bottom, y1 = PAD.top;
    const X = (t) => x0 + ((t - t0) / (t1 - t0)) * (x1 - x0);
    const Y = (v) => y0 - ((v - yMin) / (yMax - yMin)) * (y0 - y1);
    const yFmt = opts.yFmt || fmtNumber;

    const grid = el("g", { class: "grid" }, svg);
    for (const v of ticks) {
      el("line", { x1: x0, x2: x1, y1: Y(v), y2: Y(v) }, grid);
      const tx = el("text", { x: x0 - 4, y: Y(v) + 3, "text-anchor": "end" }, grid);
      tx.textContent = yFmt(v);
    }
    // a label every 90 px at most, and never two within one second (the
    // labels are whole seconds)
    const nx = Math.max(1, Math.min(Math.floor((x1 - x0) / 90), Math.floor((t1 - t0) / 1000)));
    for (let i = 0; i <= nx; i++) {
      const t = t0 + ((t1 - t0) * i) / nx;
      const tx = el("text", {
        x: X(t), y: H - 6, "text-anchor": i === 0 ? "start" : i === nx ? "end" : "middle",
      }, grid);
      tx.textContent = fmtTime(t);
    }

    for (const m of opts.markers || []) {
      if (m.t < t0 || m.t > t1) continue;
      const g = el("g", { class: "marker" }, svg);
      el("line", {
        x1: X(m.t), x2: X(m.t), y1: y1, y2: y0, stroke: m.color, "stroke-dasharray": "3 2",
      }, g);
      el("circle", { cx: X(m.t), cy: y1 + 5, r: 5, fill: m.color }, g);
      if (m.label) {
        const tx = el("text", { x: X(m.t), y: y1 + 8, "text-anchor": "middle", class: "mlabel" }, g);
        tx.textContent = m.label;
      }
      title(g, fmtTime(m.t) + " " + m.text);
    }

    for (const s of opts.series) {
      let d = "", pen = false, prevY = null;
      for (const [t, y] of s.points) {
        if (y === null || y === undefined || !isFinite(y) || t < t0 || t > t1) {
          pen = false;
          continue;
        }
        const px = X(t).toFixed(1), py = Y(Math.min(y, yMax)).toFixed(1);
        if (!pen) d += `M${px} ${py}`;
        else if (s.step) d += `H${px}V${py}`;
        else d += `L${px} ${py}`;
        pen = true;
        prevY = py;
      }
      if (s.step && pen && s.extendTo !== undefined && prevY !== null)
        d += `H${X(Math.min(s.extendTo, t1)).toFixed(1)}`;
      if (!d) continue;
      const path = el("path", {
        d, fill: "none", stroke: s.color, "stroke-width": s.width || 1.6,
        class: "series", "data-series": s.name,
      }, svg);
      if (s.dash) path.setAttribute("stroke-dasharray", s.dash);
      if (s.opacity) path.setAttribute("stroke-opacity", s.opacity);
      title(path, s.name);
    }
    return svg;
  }

  // Overlaid histograms: opts.bins: [[lo, hi]] (hi may be Infinity),
  // opts.series: [{name, color, shares: [0..1 per bin]}].
  function histograms(opts) {
    const W = Math.max(200, opts.width || 600), H = opts.height || 180;
    const svg = el("svg", {
      width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    });
    const nb = opts.bins.length;
    let yMax = 0;
    for (const s of opts.series) for (const v of s.shares) yMax = Math.max(yMax, v);
    if (nb === 0 || yMax <= 0) {
      const tx = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, svg);
      tx.textContent = opts.empty || "no predictions yet";
      return svg;
    }
    const ticks = niceTicks(0, yMax * 1.05, 4);
    yMax = ticks[ticks.length - 1];
    const x0 = PAD.left, x1 = W - PAD.right, y0 = H - PAD.bottom, y1 = PAD.top;
    const bw = (x1 - x0) / nb;
    const Y = (v) => y0 - (v / yMax) * (y0 - y1);
    const grid = el("g", { class: "grid" }, svg);
    for (const v of ticks) {
      el("line", { x1: x0, x2: x1, y1: Y(v), y2: Y(v) }, grid);
      const tx = el("text", { x: x0 - 4, y: Y(v) + 3, "text-anchor": "end" }, grid);
      tx.textContent = Math.round(v * 100) + "%";
    }
    const every = Math.max(1, Math.ceil(nb / Math.floor((x1 - x0) / 40)));
    for (let i = 0; i < nb; i += every) {
      const tx = el("text", { x: x0 + i * bw, y: H - 6, "text-anchor": "start" }, grid);
      tx.textContent = isFinite(opts.bins[i][0]) ? fmtNumber(opts.bins[i][0]) : "";
    }
    for (const s of opts.series) {
      const g = el("g", { class: "series", "data-series": s.name }, svg);
      let d = `M${x0} ${y0}`;
      for (let i = 0; i < nb; i++) {
        const v = s.shares[i] || 0;
        d += `V${Y(v).toFixed(1)}H${(x0 + (i + 1) * bw).toFixed(1)}`;
        if (v > 0) {
          const r = el("rect", {
            x: x0 + i * bw, y: Y(v), width: bw, height: y0 - Y(v), fill: s.color,
            "fill-opacity": 0.18,
          }, g);
          const [lo, hi] = opts.bins[i];
          title(r, `${s.name}: ${(v * 100).toFixed(1)}% in (${fmtNumber(lo)}, ${isFinite(hi) ? fmtNumber(hi) : "+Inf"}]`);
        }
      }
      d += `V${y0}`;
      el("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.6 }, g);
    }
    return svg;
  }

  // Estimates with intervals, grouped: opts.rows: [{label, arm, value, lo,
  // hi, n}], one group per label, one dot and whisker per arm (opts.colors).
  function intervals(opts) {
    const W = Math.max(200, opts.width || 600);
    const groups = [];
    for (const r of opts.rows) {
      let g = groups.find((x) => x.label === r.label);
      if (!g) groups.push((g = { label: r.label, rows: [] }));
      g.rows.push(r);
    }
    const H = Math.max(60, 26 + groups.length * 30);
    const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
    if (!groups.length) {
      const tx = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, svg);
      tx.textContent = opts.empty || "no feedback yet";
      return svg;
    }
    let lo = Infinity, hi = -Infinity;
    for (const r of opts.rows) {
      lo = Math.min(lo, r.lo, r.value);
      hi = Math.max(hi, r.hi, r.value);
    }
    if (!(hi > lo)) {
      lo -= 0.5;
      hi += 0.5;
    }
    const ticks = niceTicks(lo, hi, 4);
    lo = Math.min(lo, ticks[0]);
    hi = Math.max(hi, ticks[ticks.length - 1]);
    const x0 = 70, x1 = W - 12, y1 = 8, y0 = H - 18;
    const X = (v) => x0 + ((v - lo) / (hi - lo)) * (x1 - x0);
    const grid = el("g", { class: "grid" }, svg);
    for (const v of ticks) {
      el("line", { x1: X(v), x2: X(v), y1, y2: y0 }, grid);
      const tx = el("text", { x: X(v), y: H - 5, "text-anchor": "middle" }, grid);
      tx.textContent = fmtNumber(v);
    }
    groups.forEach((g, i) => {
      const yc = y1 + 14 + i * 30;
      const tx = el("text", { x: x0 - 6, y: yc + 3, "text-anchor": "end" }, grid);
      tx.textContent = g.label;
      g.rows.forEach((r, k) => {
        const y = yc + (k - (g.rows.length - 1) / 2) * 9;
        const c = (opts.colors || {})[r.arm] || "#374151";
        const s = el("g", { class: "series", "data-series": r.arm }, svg);
        el("path", { d: `M${X(r.lo).toFixed(1)} ${y}H${X(r.hi).toFixed(1)}`, stroke: c, "stroke-width": 2 }, s);
        el("circle", { cx: X(r.value), cy: y, r: 3.5, fill: c }, s);
        title(s, `${r.arm} ${g.label}: ${fmtNumber(r.value)} [${fmtNumber(r.lo)}, ${fmtNumber(r.hi)}], n=${r.n}`);
      });
    });
    return svg;
  }

  return { lines, histograms, intervals, fmtNumber, fmtTime };
})();
