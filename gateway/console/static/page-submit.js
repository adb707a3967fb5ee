// Submit: a form built from each task's JSON Schema in /v1/task-types, with file choice from /v1/files and upload.

import { api } from "./api.js";
import { h, notice } from "./dom.js";

function resolve(schema, defs) {
  if (schema && schema.$ref) return resolve(defs[schema.$ref.split("/").pop()], defs);
  if (schema && schema.anyOf) {
    const real = schema.anyOf.filter((s) => s.type !== "null");
    if (real.length === 1) return { ...resolve(real[0], defs), nullable: true, default: schema.default };
  }
  return schema || {};
}

function control(name, schema, required, files) {
  const id = `in-${name}`;
  const common = {
    id,
    name,
    required: required || undefined,
    "aria-describedby": schema.description ? `${id}-help` : undefined,
  };
  let input;
  if (schema.enum) {
    input = h(
      "select",
      common,
      required ? null : h("option", { value: "" }, "(default)"),
      schema.enum.map((v) => h("option", { value: JSON.stringify(v) }, String(v))),
    );
    if (schema.default !== undefined) input.value = JSON.stringify(schema.default);
  } else if (schema.type === "boolean") {
    input = h("input", { ...common, type: "checkbox", required: undefined });
    input.checked = schema.default === true;
  } else if (schema.type === "integer" || schema.type === "number") {
    input = h("input", {
      ...common,
      type: "number",
      step: schema.type === "integer" ? "1" : "any",
      min: schema.minimum ?? schema.exclusiveMinimum,
      max: schema.maximum,
      value: schema.default,
    });
  } else if (schema.type === "string") {
    const isPath = /path|file|dir/.test(name);
    input = h("input", {
      ...common,
      type: "text",
      value: schema.default,
      list: isPath ? "file-list" : undefined,
      autocomplete: "off",
    });
  } else {
    input = h(
      "textarea",
      { ...common, rows: "3", spellcheck: "false", placeholder: "JSON" },
      schema.default !== undefined ? JSON.stringify(schema.default) : "",
    );
  }
  input.dataset.kind = schema.enum ? "enum" : schema.type || "json";
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, name, required ? " *" : ""),
    input,
    schema.description ? h("small", { id: `${id}-help`, class: "muted" }, schema.description) : null,
  );
}

function value(input) {
  const kind = input.dataset.kind;
  if (kind === "boolean") return input.checked;
  if (input.value === "") return undefined;
  if (kind === "integer" || kind === "number") return Number(input.value);
  if (kind === "string") return input.value;
  return JSON.parse(input.value);
}

function uploader(files, message) {
  const file = h("input", { id: "upload-file", type: "file" });
  return h(
    "form",
    {
      class: "upload",
      onsubmit: async (e) => {
        e.preventDefault();
        if (!file.files.length) return;
        const body = new FormData();
        body.append("file", file.files[0]);
        try {
          const stored = await api("/v1/files", { method: "POST", body });
          files.append(h("option", { value: stored.path }));
          message.replaceChildren(notice(`Uploaded ${stored.path}: pick it in a path field.`));
        } catch (err) {
          message.replaceChildren(notice(err.message, "error"));
        }
      },
    },
    h("label", { for: "upload-file" }, "Upload a file into the storage root"),
    file,
    h("button", { type: "submit" }, "Upload"),
  );
}

export async function render(main) {
  const params = new URLSearchParams(location.search);
  const [types, stored] = await Promise.all([api("/v1/task-types"), api("/v1/files").catch(() => ({ files: [] }))]);
  const files = h(
    "datalist",
    { id: "file-list" },
    (stored.files || []).map((f) => h("option", { value: f.path })),
  );
  const message = h("div", { "aria-live": "polite" });
  const picker = h(
    "select",
    { id: "task-name", name: "task_name", required: true },
    types.task_types.map((t) => h("option", { value: t.task_name }, t.task_name)),
  );
  picker.value = params.get("task_name") || "system.ping";
  const fields = h("fieldset", { id: "input-fields" });
  const about = h("p", { class: "muted", id: "task-about" });
  const paint = () => {
    const type = types.task_types.find((t) => t.task_name === picker.value);
    const schema = resolve(type.input_schema, type.input_schema.$defs || {});
    const required = new Set(schema.required || []);
    about.textContent = `${type.description} (queue ${type.queue}${type.uses_gpu ? ", takes a GPU lease" : ""})`;
    fields.replaceChildren(
      h("legend", {}, "input_data"),
      ...Object.entries(schema.properties || {}).map(([n, s]) =>
        control(n, resolve(s, type.input_schema.$defs || {}), required.has(n), files),
      ),
    );
    if (!Object.keys(schema.properties || {}).length)
      fields.append(h("p", { class: "muted" }, "This task takes no input."));
  };
  picker.addEventListener("change", paint);
  const taskId = h("input", {
    id: "task-id",
    name: "task_id",
    type: "text",
    autocomplete: "off",
    value: params.get("task_id") || undefined,
  });
  const callback = h("input", { id: "callback", name: "callback", type: "url", autocomplete: "off" });
  const delay = h("input", { id: "delay-s", name: "delay_s", type: "number", min: "0", step: "any" });
  const form = h(
    "form",
    {
      class: "submit",
      onsubmit: async (e) => {
        e.preventDefault();
        const input = {};
        try {
          for (const el of fields.querySelectorAll("[name]")) {
            const v = value(el);
            if (v !== undefined) input[el.name] = v;
          }
        } catch (err) {
          message.replaceChildren(notice(`A JSON field does not parse: ${err.message}`, "error"));
          return;
        }
        const body = { task_name: picker.value, input_data: input };
        if (taskId.value.trim()) body.task_id = taskId.value.trim();
        if (callback.value.trim()) body.callback = callback.value.trim();
        if (delay.value.trim()) body.delay_s = Number(delay.value);
        try {
          const task = await api("/v1/tasks", { method: "POST", body });
          location.href = `/ui/tasks/${encodeURIComponent(task.task_id)}`;
        } catch (err) {
          const where = (err.problem.errors || []).map((x) => x.pointer).join(", ");
          message.replaceChildren(notice(`${err.message}${where ? ` (${where})` : ""}`, "error"));
        }
      },
    },
    h("div", { class: "field" }, h("label", { for: "task-name" }, "Task"), picker),
    about,
    fields,
    h(
      "div",
      { class: "field" },
      h("label", { for: "task-id" }, "task_id (optional: an existing one adds a stage to its workflow)"),
      taskId,
    ),
    h("div", { class: "field" }, h("label", { for: "callback" }, "Callback URL (optional)"), callback),
    h(
      "div",
      { class: "field" },
      h("label", { for: "delay-s" }, "Start after, in seconds (optional: the task is SCHEDULED until then)"),
      delay,
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "submit" }, "Submit")),
  );
  main.append(h("h1", {}, "Submit a task"), message, form, files, uploader(files, message));
  paint();
}
