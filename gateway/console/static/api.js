// The API as the console uses it: the key (sessionStorage, Authorization header), JSON calls and live events.

const KEY = "taskgate.apiKey";

export const auth = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set(key) {
    if (key) sessionStorage.setItem(KEY, key);
    else sessionStorage.removeItem(KEY);
  },
  onUnauthorized: () => {},
};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function headers(extra = {}) {
  const out = { ...extra };
  if (auth.key) out.Authorization = `Bearer ${auth.key}`;
  return out;
}

// Call the API; resolve with the decoded JSON (or null), reject with ApiError.
// ``accept`` lists error statuses whose JSON body is still an answer (e.g. health's 503).
export async function api(path, { method = "GET", body, accept = [] } = {}) {
  const init = { method, headers: headers() };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok && !accept.includes(resp.status)) {
    if (resp.status === 401) auth.onUnauthorized();
    throw new ApiError(resp.status, data);
  }
  return data;
}

// Download a stored file with the key (a plain link cannot send the header).
export async function download(path) {
  const resp = await fetch(`/v1/files/${path.split("/").map(encodeURIComponent).join("/")}`, { headers: headers() });
  if (!resp.ok) throw new ApiError(resp.status, await resp.json().catch(() => ({})));
  const url = URL.createObjectURL(await resp.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: path.split("/").pop() });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const liveDot = () => document.getElementById("live");
let openStreams = 0;

function setLive(delta) {
  openStreams += delta;
  const dot = liveDot();
  if (!dot) return;
  dot.classList.toggle("on", openStreams > 0);
  dot.setAttribute("aria-label", `Live updates: ${openStreams > 0 ? "on" : "off"}`);
}

// Parse Server-Sent Events frames out of text chunks; call ``emit(type, data, id)`` per event.
function parser(emit) {
  let buffer = "";
  let type = "message",
    data = [],
    id = null;
  return (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, "");
      buffer = buffer.slice(nl + 1);
      if (line === "") {
        if (data.length) emit(type, JSON.parse(data.join("\n")), id);
        type = "message";
        data = [];
        continue;
      }
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
  };
}

// Follow a Server-Sent Events endpoint with fetch() streaming (EventSource cannot send headers).
// Reconnects with Last-Event-ID; stops on ``end``, on 401/403/404, or when ``close()`` is called.
export function follow(path, onEvent) {
  const control = new AbortController();
  let lastId = null;
  let stopped = false;
  const run = async () => {
    while (!stopped) {
      const extra = lastId ? { "Last-Event-ID": lastId } : {};
      let opened = false;
      try {
        const resp = await fetch(path, {
          headers: headers({ Accept: "text/event-stream", ...extra }),
          signal: control.signal,
        });
        if (!resp.ok) {
          if (resp.status === 401) auth.onUnauthorized();
          if ([401, 403, 404].includes(resp.status)) return;
          throw new Error(`HTTP ${resp.status}`);
        }
        opened = true;
        setLive(1);
        const feed = parser((type, data, id) => {
          if (id) lastId = id;
          if (type === "end") stopped = true;
          onEvent(type, data);
        });
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          feed(value);
        }
      } catch (err) {
        if (control.signal.aborted) return;
      } finally {
        if (opened) setLive(-1);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  };
  run();
  return {
    close() {
      stopped = true;
      control.abort();
    },
  };
}
