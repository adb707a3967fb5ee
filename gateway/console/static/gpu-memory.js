// The GPUs page's memory views: a device's memory as a bar (each holder's share, free, reserve), a timeline
// of the last hour's holders and waits per device (built from the live lease events), and the footprints
// that tasks declared and used.

import { h } from "./dom.js";

export const HOUR_MS = 3600 * 1000;
const unit = (d) => (d.by_memory ? "MiB" : "slots");

// Set sizes through the CSSOM: the console's CSP (style-src 'self') refuses style attributes.
function sized(el, style) {
  Object.assign(el.style, style);
  return el;
}

// One device's memory bar: a segment per holder, then free, then the reserve (memory-weighted devices).
export function memoryBar(d) {
  const total = d.capacity + (d.by_memory ? d.reserve_mb : 0);
  const pct = (n) => `${Math.max(0, (100 * n) / total)}%`;
  const free = Math.max(0, d.capacity - d.held);
  const segments = d.holders.map((x) =>
    sized(
      h("span", { class: "seg held", title: `${x.task_name} (${x.task_id}): ${x.amount} ${unit(d)}` }, x.task_name),
      { width: pct(x.amount) },
    ),
  );
  segments.push(sized(h("span", { class: "seg free", title: `free: ${free} ${unit(d)}` }), { width: pct(free) }));
  if (d.by_memory && d.reserve_mb)
    segments.push(
      sized(h("span", { class: "seg reserve", title: `reserve: ${d.reserve_mb} MiB` }), { width: pct(d.reserve_mb) }),
    );
  return h(
    "div",
    {},
    h(
      "div",
      {
        class: "membar",
        role: "img",
        "aria-label": `GPU ${d.device}: ${d.held} of ${d.capacity} ${unit(d)} held, ${free} free` +
          (d.by_memory ? `, ${d.reserve_mb} MiB reserved` : ""),
      },
      ...segments,
    ),
    h(
      "p",
      { class: "muted mem-legend" },
      `${d.held} ${unit(d)} held · ${free} free` + (d.by_memory ? ` · ${d.reserve_mb} MiB reserve` : ""),
    ),
  );
}

// The holds and waits seen in the lease events, per device: {device: [{kind, task_id, task_name, start, end, amount}]}.
export class Timeline {
  constructor() {
    this.open = new Map(); // device:fencing -> bar
    this.queued = new Map(); // task_id -> wait bar
    this.bars = [];
  }

  add(e) {
    const at = e.at_ms;
    if (e.action === "queued") {
      const bar = { kind: "wait", device: e.device, task_id: e.task_id, task_name: e.task_name, start: at, end: null, amount: e.amount };
      this.queued.set(e.task_id, bar);
      this.bars.push(bar);
    } else if (e.action === "granted") {
      const wait = this.queued.get(e.task_id);
      if (wait) {
        wait.end = at;
        wait.device = e.device;
        this.queued.delete(e.task_id);
      }
      const bar = { kind: "hold", device: e.device, task_id: e.task_id, task_name: e.task_name, start: at, end: null, amount: e.amount };
      this.open.set(`${e.device}:${e.fencing_token}`, bar);
      this.bars.push(bar);
    } else if (["released", "expired", "force_released"].includes(e.action)) {
      const key = `${e.device}:${e.fencing_token}`;
      const bar = this.open.get(key);
      if (bar) {
        bar.end = e.expired_at_ms || at;
        bar.ended = e.action;
        this.open.delete(key);
      }
    }
  }

  // Bars of one device overlapping [from, to], in lanes so that none overlap inside a lane.
  lanes(device, from, to) {
    const lanes = [];
    const bars = this.bars
      .filter((b) => (b.device === device || b.device < 0) && (b.end ?? to) >= from) // an any-device wait shows on each
      .sort((a, b) => a.start - b.start);
    for (const bar of bars) {
      const lane = lanes.find((l) => l.at(-1).end !== null && l.at(-1).end <= bar.start);
      if (lane) lane.push(bar);
      else lanes.push([bar]);
    }
    return lanes;
  }
}

// A device's Gantt chart of the last hour: one row per lane, holds solid, waits hatched.
export function gantt(timeline, device, now) {
  const from = now - HOUR_MS;
  const pct = (t) => `${(100 * (Math.max(t, from) - from)) / HOUR_MS}%`;
  const rows = timeline.lanes(device, from, now).map((lane) =>
    h(
      "div",
      { class: "lane" },
      ...lane.map((b) => {
        const end = b.end ?? now;
        const width = Math.max(0.15, (100 * (end - Math.max(b.start, from))) / HOUR_MS);
        const secs = ((end - b.start) / 1000).toFixed(1);
        const label = `${b.kind === "wait" ? "waited" : "held"} ${secs} s: ${b.task_name} (${b.task_id})` +
          (b.amount ? `, ${b.amount}` : "") + (b.end === null ? ", still" : "");
        const bar = h("span", {
          class: `bar ${b.kind}${b.end === null ? " open" : ""}`,
          "data-task-id": b.task_id,
          title: label,
          "aria-label": label,
        });
        return sized(bar, { left: pct(b.start), width: `${width}%` });
      }),
    ),
  );
  return h(
    "figure",
    { class: "gantt", "data-device": device },
    h("figcaption", {}, `Last hour on GPU ${device}: holders (solid) and waits (hatched)`),
    ...(rows.length ? rows : [h("p", { class: "muted" }, "No leases in the last hour.")]),
    h("div", { class: "axis muted" }, h("span", {}, "-60 min"), h("span", {}, "-30 min"), h("span", {}, "now")),
  );
}

// Declared vs measured memory per task type and model; a row over what it declared is marked.
export function footprints(list) {
  if (!list.length) return [];
  return [
    h("h2", {}, "Memory declared and measured"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "footprints" },
        h("thead", {}, h("tr", {}, ["Task", "Model", "Declared MiB", "Measured MiB", "By", ""].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          list.map((f) =>
            h(
              "tr",
              { class: f.over_declared ? "over" : "" },
              h("td", {}, f.task_name),
              h("td", {}, f.model || ""),
              h("td", {}, f.declared_mb),
              h("td", {}, f.measured_mb),
              h("td", {}, f.measured_by),
              h("td", {}, f.over_declared ? "⚠ used more than it asked for" : ""),
            ),
          ),
        ),
      ),
    ),
  ];
}
