// A workflow as a graph: one node per stage (coloured by its status), one edge per ${{ }} reference from the
// stage that names another stage's output to that stage. Plain SVG, laid out in columns by dependency depth.

const SVG = "http://www.w3.org/2000/svg";
const REFERENCE = /\$\{\{\s*stages\.([A-Za-z0-9_.-]+?)\.output((?:\.[A-Za-z0-9_-]+)+)\s*\}\}/g;
const NODE_W = 190;
const NODE_H = 44;
const GAP_X = 60;
const GAP_Y = 18;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child instanceof Node ? child : document.createTextNode(child));
  }
  return el;
}

// The stage names a JSON value refers to (as state/references.py finds them).
export function references(value, found = new Set()) {
  if (typeof value === "string") {
    for (const m of value.matchAll(REFERENCE)) found.add(m[1]);
  } else if (Array.isArray(value)) {
    value.forEach((v) => references(v, found));
  } else if (value && typeof value === "object") {
    Object.values(value).forEach((v) => references(v, found));
  }
  return found;
}

// Edges [from, to]: ``to`` reads ``from``'s output (only between stages of this workflow).
export function edges(stages) {
  const out = [];
  for (const [name, stage] of Object.entries(stages)) {
    for (const source of references(stage.input_data)) {
      if (source in stages && source !== name) out.push([source, name]);
    }
  }
  return out;
}

function depths(names, links) {
  const depth = Object.fromEntries(names.map((n) => [n, 0]));
  for (let round = 0; round < names.length; round += 1) {
    let moved = false;
    for (const [from, to] of links) {
      if (depth[to] < depth[from] + 1) {
        depth[to] = depth[from] + 1;
        moved = true;
      }
    }
    if (!moved) break;
  }
  return depth;
}

function short(name) {
  return name.length > 24 ? `${name.slice(0, 23)}…` : name;
}

// Return the SVG of a workflow's stages (task.stages: name -> {status, progress, ...}).
export function workflowGraph(stages) {
  const names = Object.keys(stages);
  const links = edges(stages);
  const depth = depths(names, links);
  const columns = [];
  for (const name of names) (columns[depth[name]] ||= []).push(name);
  const at = {};
  columns.forEach((column, x) =>
    column.forEach((name, y) => {
      at[name] = { x: 10 + x * (NODE_W + GAP_X), y: 10 + y * (NODE_H + GAP_Y) };
    }),
  );
  const width = 20 + columns.length * NODE_W + (columns.length - 1) * GAP_X;
  const height = 20 + Math.max(...columns.map((c) => c.length)) * (NODE_H + GAP_Y) - GAP_Y;
  const arrow = svg(
    "marker",
    { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" },
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }),
  );
  const lines = links.map(([from, to]) => {
    const a = at[from];
    const b = at[to];
    const [x1, y1, x2, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2];
    return edge(from, to, x1, y1, x2, y2, (x1 + x2) / 2);
  });
  const nodes = names.map((name) => {
    const stage = stages[name];
    const status = String(stage.status);
    const { x, y } = at[name];
    return svg(
      "g",
      { class: `node s-${status.toLowerCase()}`, "data-stage": name, "data-status": status, transform: `translate(${x},${y})` },
      svg("title", {}, `${name}: ${status}`),
      svg("rect", { width: NODE_W, height: NODE_H, rx: "8" }),
      svg("text", { x: "10", y: "18", class: "name" }, short(name)),
      svg("text", { x: "10", y: "35", class: "state" }, status),
    );
  });
  const label = `Workflow graph: ${names.length} stage(s), ${links.length} reference(s)`;
  return svg(
    "svg",
    { class: "graph", role: "img", "aria-label": label, viewBox: `0 0 ${width} ${height}`, width, height },
    svg("defs", {}, arrow),
    lines,
    nodes,
  );
}

function edge(from, to, x1, y1, x2, y2, mid) {
  return svg(
    "path",
    {
      class: "edge",
      "data-from": from,
      "data-to": to,
      d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
      "marker-end": "url(#arrow)",
    },
    svg("title", {}, `${to} reads the output of ${from}`),
  );
}
