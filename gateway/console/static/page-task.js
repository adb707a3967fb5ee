// One task: every stage with status, progress, times, input, output (files as downloads), error, GPU lease,
// tier events and webhook deliveries; cancel; add a stage to the same workflow. Live via its event stream.

import { api, auth, download, follow } from "./api.js";
import { TERMINAL, badge, h, json, notice, progressBar, seconds, setProgress, shownProgress, when } from "./dom.js";
import { workflowGraph } from "./graph.js";

const FILE_KEY = /(_path|_paths|_file|_files|_dir)$/;

function fileLinks(value) {
  const paths = Array.isArray(value) ? value : [value];
  if (!paths.every((p) => typeof p === "string" && p && !p.includes("://"))) return null;
  return h(
    "ul",
    { class: "files" },
    paths.map((p) =>
      h(
        "li",
        {},
        h(
          "a",
          {
            href: `/v1/files/${p.split("/").map(encodeURIComponent).join("/")}`,
            "data-file": p,
            onclick: (e) => {
              if (auth.key) {
                e.preventDefault();
                download(p).catch((err) => alert(err.message));
              }
            },
          },
          p,
        ),
      ),
    ),
  );
}

function output(out) {
  if (!out) return "";
  const rows = Object.entries(out).map(([k, v]) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, k),
      h("td", {}, (FILE_KEY.test(k) && fileLinks(v)) || (typeof v === "object" ? json(v) : String(v))),
    ),
  );
  return h("table", { class: "kv" }, h("tbody", {}, rows));
}

function field(label, value) {
  return value === "" || value === null || value === undefined ? null : [h("dt", {}, label), h("dd", {}, value)];
}

function stageCard(name, stage) {
  const gpu = stage.gpu
    ? `device ${stage.gpu.device}, fencing token ${stage.gpu.fencing_token}, waited ${seconds(stage.gpu.waited_s)}`
    : "";
  const events = (stage.events || []).map((e) =>
    h(
      "li",
      { class: `tier t-${e.kind || e.tier || ""}` },
      `${e.kind || e.tier || "event"}: ${e.detail || e.message || JSON.stringify(e)}`,
    ),
  );
  const callback = stage.callback_status;
  return h(
    "section",
    { class: "stage card", "data-stage": name, "aria-labelledby": `st-${name}` },
    h("h2", { id: `st-${name}` }, name, " ", badge(stage.status)),
    h("div", { class: "prog" }, progressBar(shownProgress(stage.status, stage.progress), `Progress of ${name}`)),
    h(
      "dl",
      { class: "facts" },
      field("Created", when(stage.created_at)),
      field("Starts at", when(stage.run_at)),
      field("Started", when(stage.started_at)),
      field("Finished", when(stage.finished_at)),
      field("Duration", seconds(stage.duration_s)),
      field("Attempts", stage.attempts),
      field("GPU lease", gpu),
      field("Webhook", callback ? `${callback.state}, ${callback.attempts.length} attempt(s) to ${callback.url}` : ""),
    ),
    stage.error
      ? h("div", { class: "error", role: "alert" }, h("strong", {}, stage.error.type), ": ", stage.error.message)
      : null,
    events.length ? [h("h3", {}, "Events"), h("ul", { class: "events" }, events)] : null,
    h("details", {}, h("summary", {}, "Input"), json(stage.input_data)),
    stage.output ? [h("h3", {}, "Output"), output(stage.output)] : null,
  );
}

export async function render(main, who, id) {
  const head = h("div", { class: "task-head" });
  const stages = h("div", { class: "stages" });
  const graph = h("div", { class: "graph-wrap", id: "graph" });
  const message = h("div", { "aria-live": "polite" });
  main.append(
    h("h1", {}, "Task ", h("code", {}, id)),
    head,
    message,
    h("section", { class: "card", "aria-labelledby": "graph-title" }, h("h2", { id: "graph-title" }, "Stages"), graph),
    stages,
  );
  let current = null;
  const paint = (task) => {
    current = task;
    const cancel = h(
      "button",
      {
        type: "button",
        id: "cancel",
        class: "danger",
        onclick: async () => {
          cancel.disabled = true;
          try {
            const after = await api(`/v1/tasks/${encodeURIComponent(id)}`, { method: "DELETE" });
            message.replaceChildren(
              notice(after.status === "CANCELLED" ? "Cancelled." : "Asked to stop; it ends at its next checkpoint."),
            );
            paint(after);
          } catch (err) {
            message.replaceChildren(notice(err.message, "error"));
            cancel.disabled = false;
          }
        },
      },
      "Cancel",
    );
    head.replaceChildren(
      h("p", {}, badge(task.status), " ", h("span", { class: "muted" }, task.task_name)),
      h(
        "div",
        { class: "actions" },
        TERMINAL.has(task.status) ? null : cancel,
        h("a", { class: "button", href: `/ui/submit?task_id=${encodeURIComponent(id)}` }, "Add a stage"),
      ),
    );
    graph.replaceChildren(workflowGraph(task.stages));
    stages.replaceChildren(...Object.entries(task.stages).map(([name, s]) => stageCard(name, s)));
  };
  try {
    paint(await api(`/v1/tasks/${encodeURIComponent(id)}`));
  } catch (err) {
    main.append(notice(err.status === 404 ? `No task ${id}.` : err.message, "error"));
    return;
  }
  let pending = null;
  const reload = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => paint(await api(`/v1/tasks/${encodeURIComponent(id)}`)), 50);
  };
  follow(`/v1/tasks/${encodeURIComponent(id)}/events`, (type, data) => {
    if (type === "snapshot") paint(data);
    else if (type === "progress") {
      const card = stages.querySelector(`[data-stage="${CSS.escape(data.task_name)}"] .prog`);
      if (card) setProgress(card, data.progress);
    } else if (["stage", "lease", "tier", "end"].includes(type)) reload();
  });
  return current;
}
