// XTrinode console: plain browser JavaScript, no dependencies, no build step.
// Security rules of this file: the bearer token lives in sessionStorage and travels only in an
// Authorization header (no cookies, so no CSRF); every name, message or reason from the server is
// inserted as text (textContent / text nodes), never as markup. The CSP forbids inline scripts.
const tokenKey = "xtrinode.console.token";
const pollMs = 2000;

const main = document.getElementById("main");
const statusLine = document.getElementById("status");
const who = document.getElementById("who");
const nav = document.getElementById("nav");
const logoutButton = document.getElementById("logout");

/** Builds an element: props are properties (className, href, …) or data-/aria- attributes; children are nodes or text. */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" || key === "for") element.setAttribute(key, String(value));
    else if (key === "onclick" || key === "onchange" || key === "onsubmit") element.addEventListener(key.slice(2), value);
    else element[key] = value;
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function showStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the lifecycle API with the session's token; a 401 ends the session. */
async function api(path, options = {}) {
  const token = sessionStorage.getItem(tokenKey);
  const response = await fetch(path, {
    ...options,
    headers: { ...(options.headers ?? {}), Authorization: `Bearer ${token}`, Accept: "application/json" },
    cache: "no-store",
  });
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = new HttpError(response.status, body?.error?.code ?? "", body?.error?.message ?? `HTTP ${response.status}`);
    if (response.status === 401) {
      sessionStorage.removeItem(tokenKey);
      session = undefined;
      route();
    }
    throw error;
  }
  return body;
}

// ---- formatting ----------------------------------------------------------------------------------

let serverSkewMs = 0; // server clock − browser clock, from each list answer's serverTime

function serverNow() {
  return Date.now() + serverSkewMs;
}

function span(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d`;
}

function ago(iso) {
  if (!iso) return "—";
  const ms = serverNow() - Date.parse(iso);
  return Number.isFinite(ms) ? `${span(ms)} ago` : iso;
}

function until(iso) {
  if (!iso) return "—";
  const ms = Date.parse(iso) - serverNow();
  if (!Number.isFinite(ms)) return iso;
  return ms <= 0 ? "due now" : `in ${span(ms)}`;
}

function timeElement(iso, text) {
  return iso ? h("time", { dateTime: iso, title: iso }, text) : "—";
}

const phaseTone = {
  Ready: "ok",
  Suspended: "idle",
  Suspending: "warn",
  Resuming: "warn",
  Reconciling: "warn",
  Pending: "warn",
  Error: "bad",
};
const routeTone = { RUNNING: "ok", PAUSED: "idle", DRAINING: "warn", RESUMING: "warn", FAILED: "bad", REMOVED: "bad" };

function badge(text, tone, extra = {}) {
  return h("span", { className: `badge ${tone ?? ""}`, ...extra }, text ?? "—");
}

function workersText(workers) {
  const ready = workers.ready ?? 0;
  if (workers.mode === "keda") return `${ready} (keda ${workers.min ?? 0}–${workers.max ?? "?"})`;
  return `${ready}/${workers.desired ?? "?"}`;
}

function conditionChips(conditions) {
  return h(
    "div",
    { className: "chips" },
    conditions.map((condition) =>
      h(
        "span",
        { className: `chip ${condition.status === "True" ? "" : "false"}`, title: condition.message ?? "" },
        `${condition.type}: ${condition.reason ?? condition.status}`,
      ),
    ),
  );
}

/**
 * The console's one table: a row per item, a cell per column. A column is { label, value(item) → node or
 * text, title?: the row's name cell, header?: the heading when it differs from the label }; each cell
 * carries its label (data-label: the narrow layout shows it beside the value). rowAttributes(item) gives the
 * row's data- attributes (the tests find rows by them); emptyText stands in for no items.
 */
function table(columns, items, rowAttributes, emptyText) {
  const rows = items.map((item) =>
    h(
      "tr",
      rowAttributes(item),
      columns.map((column) => h("td", { className: column.title ? "title" : undefined, "data-label": column.label }, column.value(item))),
    ),
  );
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        columns.map((column) => h("th", { scope: "col" }, column.header ?? column.label)),
      ),
    ),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colSpan: columns.length, className: "muted" }, emptyText))),
  );
}

/** A panel of label → value facts (a definition list). */
function factsPanel(facts) {
  return h(
    "section",
    { className: "panel" },
    h(
      "dl",
      { className: "facts" },
      facts.flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]),
    ),
  );
}

function runtimeLink(namespace, name) {
  return h("a", { href: `#/runtime/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}` }, `${namespace}/${name}`);
}

const runtimeKey = (item) => `${item.namespace}/${item.name}`;

/** Columns of conditions, catalogs and events alike (items with reason and message). */
const reasonColumn = { label: "Reason", value: (item) => item.reason ?? "—" };
const messageColumn = { label: "Message", value: (item) => h("span", { className: "message" }, item.message ?? "") };
/** A column showing a condition status ("True", "False", "Unknown", …) as a badge: good only when "True". */
const conditionStatusColumn = (label, field) => ({ label, value: (item) => badge(item[field], item[field] === "True" ? "ok" : "bad") });

// ---- session -------------------------------------------------------------------------------------

/** { username, groups, permissions, gateway } of the logged-in identity. */
let session;
/** The current view's cleanup (stops its polling). */
let stopView = () => {};

async function loadSession() {
  if (session) return session;
  session = await api("/v1/whoami");
  who.textContent = session.username;
  return session;
}

function logout() {
  sessionStorage.removeItem(tokenKey);
  session = undefined;
  location.hash = "#/";
  route();
}
logoutButton.addEventListener("click", logout);

function loginView(message) {
  nav.hidden = true;
  logoutButton.hidden = true;
  who.textContent = "";
  const input = h("input", {
    type: "password",
    id: "token",
    name: "token",
    autocomplete: "off",
    required: true,
    placeholder: "bearer token",
  });
  const form = h(
    "form",
    {
      className: "panel login",
      onsubmit: async (event) => {
        event.preventDefault();
        sessionStorage.setItem(tokenKey, input.value.trim());
        session = undefined;
        try {
          await loadSession();
          showStatus("");
          route();
        } catch (error) {
          sessionStorage.removeItem(tokenKey);
          loginView(error.status === 401 ? "That token was not accepted." : `Could not log in: ${error.message}`);
        }
      },
    },
    h("h1", {}, "Log in"),
    h("label", { for: "token" }, "Token"),
    input,
    h(
      "p",
      { className: "muted hint" },
      "A bearer token the lifecycle API accepts (a Kubernetes ServiceAccount or user token; locally, the one `npm start` prints). It is kept in this tab only.",
    ),
    message ? h("p", { className: "error", role: "alert" }, message) : null,
    h("div", { className: "row" }, h("button", { type: "submit" }, "Log in")),
  );
  main.replaceChildren(form);
  input.focus();
}

// ---- polling -------------------------------------------------------------------------------------

/** Runs `tick` now and every pollMs until the view changes; errors show in the status line. */
function poll(tick) {
  let stopped = false;
  let timer;
  const run = async () => {
    try {
      await tick();
      if (!stopped) showStatus(`Updated ${new Date().toLocaleTimeString()} · refreshes every ${pollMs / 1000} s`);
    } catch (error) {
      if (!stopped) showStatus(`Update failed: ${error.message}`, true);
    }
    if (!stopped) timer = setTimeout(run, pollMs);
  };
  run();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
    now: () => {
      clearTimeout(timer);
      run();
    },
  };
}

async function lifecycleAction(runtime, action, refresh) {
  const label = `${action} ${runtime.namespace}/${runtime.name}`;
  showStatus(`${label}…`);
  try {
    const answer = await api(`/v1/runtimes/${encodeURIComponent(runtime.namespace)}/${encodeURIComponent(runtime.name)}/${action}`, {
      method: "POST",
    });
    showStatus(`${label}: ${answer?.state ?? "accepted"}`);
  } catch (error) {
    showStatus(`${label} refused: ${error.message}`, true);
  }
  refresh();
}

function actionButtons(runtime, refresh) {
  const buttons = [];
  if (runtime.allowed?.suspend && !runtime.suspended) {
    buttons.push(
      h(
        "button",
        { type: "button", className: "danger", "data-action": "suspend", onclick: () => lifecycleAction(runtime, "suspend", refresh) },
        "Suspend",
      ),
    );
  }
  if (runtime.allowed?.resume && (runtime.suspended || runtime.routeState !== "RUNNING")) {
    buttons.push(
      h("button", { type: "button", "data-action": "resume", onclick: () => lifecycleAction(runtime, "resume", refresh) }, "Resume"),
    );
  }
  return buttons;
}

/** Held and in-flight queries per runtime from the gateway status (when a gateway is configured). */
async function gatewayQueries() {
  if (!session?.gateway) return new Map();
  try {
    const status = await api("/v1/gateway");
    return new Map(status.runtimes.map((entry) => [`${entry.namespace}/${entry.name}`, entry]));
  } catch {
    return new Map();
  }
}

function queryCount(queries, key, field) {
  const entry = queries.get(key);
  return entry && typeof entry[field] === "number" ? String(entry[field]) : "—";
}

// ---- runtimes ------------------------------------------------------------------------------------

const filters = { namespace: "", state: "" };

function runtimesView() {
  const namespaceSelect = h(
    "select",
    { id: "filter-namespace", onchange: () => ((filters.namespace = namespaceSelect.value), draw()) },
    h("option", { value: "" }, "all namespaces"),
  );
  const stateSelect = h(
    "select",
    { id: "filter-state", onchange: () => ((filters.state = stateSelect.value), draw()) },
    h("option", { value: "" }, "any state"),
  );
  const body = h("div", {});
  main.replaceChildren(
    h("h1", {}, "Runtimes"),
    h("div", { className: "filters" }, h("label", {}, "Namespace", namespaceSelect), h("label", {}, "State", stateSelect)),
    body,
  );
  let items = [];
  let queries = new Map();
  const options = (select, values, current) => {
    const wanted = ["", ...values];
    const have = [...select.options].map((option) => option.value);
    if (wanted.join("\n") !== have.join("\n")) {
      select.replaceChildren(select.options[0], ...values.map((value) => h("option", { value }, value)));
    }
    select.value = wanted.includes(current) ? current : "";
  };
  const draw = () => {
    options(namespaceSelect, [...new Set(items.map((item) => item.namespace))].sort(), filters.namespace);
    options(stateSelect, [...new Set(items.flatMap((item) => [item.phase, item.routeState]).filter(Boolean))].sort(), filters.state);
    const shown = items.filter(
      (item) =>
        (!filters.namespace || item.namespace === filters.namespace) &&
        (!filters.state || item.phase === filters.state || item.routeState === filters.state),
    );
    const columns = [
      { label: "Runtime", title: true, value: (item) => runtimeLink(item.namespace, item.name) },
      { label: "Phase", value: (item) => badge(item.phase, phaseTone[item.phase], { "data-field": "phase" }) },
      { label: "Route", value: (item) => badge(item.routeState, routeTone[item.routeState], { "data-field": "route" }) },
      { label: "Workers", value: (item) => workersText(item.workers) },
      { label: "Held", value: (item) => queryCount(queries, runtimeKey(item), "heldQueries") },
      { label: "In flight", value: (item) => queryCount(queries, runtimeKey(item), "inFlightQueries") },
      { label: "Last activity", value: (item) => timeElement(item.lastActivity, ago(item.lastActivity)) },
      { label: "Idle suspend", value: (item) => timeElement(item.idleSuspendAt, until(item.idleSuspendAt)) },
      { label: "Conditions", value: (item) => conditionChips(item.conditions) },
      {
        label: "Actions",
        header: "",
        value: (item) =>
          h(
            "div",
            { className: "row" },
            actionButtons(item, () => ticker.now()),
          ),
      },
    ];
    const emptyText = items.length ? "No runtime matches the filters." : "No runtimes you may read.";
    body.replaceChildren(table(columns, shown, (item) => ({ "data-runtime": runtimeKey(item) }), emptyText));
  };
  const ticker = poll(async () => {
    const [list, gateway] = await Promise.all([api("/v1/runtimes"), gatewayQueries()]);
    if (list.serverTime) serverSkewMs = Date.parse(list.serverTime) - Date.now();
    items = list.items;
    queries = gateway;
    draw();
  });
  return ticker.stop;
}

// ---- one runtime ---------------------------------------------------------------------------------

function runtimeView(namespace, name) {
  const key = `${namespace}/${name}`;
  main.replaceChildren(h("h1", {}, key), h("p", { className: "muted" }, "Loading…"));
  const ticker = poll(async () => {
    let details;
    try {
      details = await api(`/v1/runtimes/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/details`);
    } catch (error) {
      if (error.status === 404 || error.status === 403) {
        main.replaceChildren(h("h1", {}, key), h("p", { className: "error" }, error.message), h("a", { href: "#/" }, "All runtimes"));
        return;
      }
      throw error;
    }
    if (details.serverTime) serverSkewMs = Date.parse(details.serverTime) - Date.now();
    const queries = await gatewayQueries();
    const runtime = details.runtime;
    const facts = [
      ["Phase", badge(runtime.phase, phaseTone[runtime.phase], { "data-field": "phase" })],
      ["Route", badge(runtime.routeState, routeTone[runtime.routeState], { "data-field": "route" })],
      ["Suspended (spec)", runtime.suspended ? "yes" : "no"],
      ["Workers", workersText(runtime.workers)],
      ["Held / in flight", `${queryCount(queries, key, "heldQueries")} / ${queryCount(queries, key, "inFlightQueries")}`],
      ["Hostnames", runtime.hostnames.length ? runtime.hostnames.join(", ") : "—"],
      ["Pool", runtime.pool ?? "—"],
      ["Wake TTL", runtime.wakeTTL ?? "never idles"],
      ["Idle suspend", timeElement(runtime.idleSuspendAt, until(runtime.idleSuspendAt))],
      ["Last activity", timeElement(runtime.lastActivity, ago(runtime.lastActivity))],
      ["Ready since", timeElement(runtime.readySince, ago(runtime.readySince))],
      ["Message", h("span", { className: "message" }, runtime.message ?? "—")],
    ];
    main.replaceChildren(
      h("p", {}, h("a", { href: "#/" }, "← All runtimes")),
      h(
        "h1",
        {},
        key,
        h(
          "span",
          { className: "row" },
          actionButtons(runtime, () => ticker.now()),
        ),
      ),
      h(
        "div",
        { className: "grid2" },
        factsPanel(facts),
        h(
          "section",
          { className: "panel" },
          h("h2", {}, "Resume / suspend history"),
          details.history.length
            ? h(
                "ul",
                { className: "history" },
                details.history.map((entry) =>
                  h("li", {}, timeElement(entry.at, ago(entry.at)), entry.what, entry.by ? ` — by ${entry.by}` : ""),
                ),
              )
            : h("p", { className: "muted" }, "Nothing recorded yet."),
        ),
      ),
      h("h2", {}, "Conditions"),
      table(
        [
          { label: "Type", title: true, value: (condition) => condition.type },
          conditionStatusColumn("Status", "status"),
          reasonColumn,
          messageColumn,
          { label: "Since", value: (condition) => timeElement(condition.lastTransitionTime, ago(condition.lastTransitionTime)) },
        ],
        runtime.conditions,
        (condition) => ({ "data-condition": condition.type }),
        "No conditions reported yet.",
      ),
      h("h2", {}, "Catalogs in use"),
      table(
        [
          { label: "Catalog", title: true, value: (catalog) => catalog.name },
          conditionStatusColumn("Ready", "ready"),
          reasonColumn,
          messageColumn,
        ],
        details.catalogs,
        (catalog) => ({ "data-catalog": catalog.name }),
        "No catalogs resolved.",
      ),
      h("h2", {}, "Recent events"),
      table(
        [
          { label: "When", value: (event) => timeElement(event.at, ago(event.at)) },
          { label: "Type", value: (event) => badge(event.type, event.type === "Warning" ? "bad" : "") },
          reasonColumn,
          messageColumn,
          { label: "Count", value: (event) => String(event.count) },
          { label: "From", value: (event) => event.source || "—" },
        ],
        details.events,
        (event) => ({ "data-event": event.reason }),
        "No recent events.",
      ),
    );
  });
  return ticker.stop;
}

// ---- gateway ----------------------------------------------------------------------------------

const breakerTone = { closed: "ok", open: "bad", "half-open": "warn" };
const healthTone = { healthy: "ok", unhealthy: "bad", starting: "warn" };

function gatewayView() {
  if (!session?.gateway) {
    main.replaceChildren(
      h("h1", {}, "Gateway"),
      h("p", { className: "muted" }, "No gateway is configured: start the lifecycle API with --gateway-url."),
    );
    return () => {};
  }
  main.replaceChildren(h("h1", {}, "Gateway"), h("p", { className: "muted" }, "Loading…"));
  const ticker = poll(async () => {
    const status = await api("/v1/gateway");
    const routes = status.routes;
    const facts = [
      ["Routes generation", String(routes.generation)],
      ["Routes last good", routes.lastGoodAgeSeconds === null ? "no valid routes yet" : `${span(routes.lastGoodAgeSeconds * 1000)} ago`],
      ["Invalid routes updates", `${routes.invalidUpdates} since start, ${routes.rejectedSinceLastGood} since the routes in force`],
      ["Held queries", `${status.held.count} of at most ${status.held.max}`],
      ["Queries in flight", String(status.inFlight.count)],
    ];
    main.replaceChildren(
      h("h1", {}, "Gateway"),
      factsPanel(facts),
      h("h2", {}, "Queries per runtime"),
      table(
        [
          { label: "Runtime", title: true, value: (entry) => runtimeLink(entry.namespace, entry.name) },
          {
            label: "Route",
            value: (entry) => badge(entry.routeState ?? "not routed", routeTone[entry.routeState], { "data-field": "route" }),
          },
          { label: "Held", value: (entry) => String(entry.heldQueries) },
          { label: "In flight", value: (entry) => String(entry.inFlightQueries) },
          { label: "Backend", value: (entry) => entry.backend ?? "—" },
        ],
        status.runtimes,
        (entry) => ({ "data-runtime": runtimeKey(entry) }),
        "No runtimes routed.",
      ),
      h("h2", {}, "Backends"),
      table(
        [
          { label: "Backend", title: true, value: (backend) => backend.url },
          { label: "Health", value: (backend) => badge(backend.health, healthTone[backend.health], { "data-field": "health" }) },
          {
            label: "Breaker",
            value: (backend) =>
              badge(
                backend.openSecondsLeft === undefined
                  ? backend.breaker
                  : `${backend.breaker} (${span(backend.openSecondsLeft * 1000)} left)`,
                breakerTone[backend.breaker],
                { "data-field": "breaker" },
              ),
          },
          { label: "Ejections", value: (backend) => String(backend.ejections) },
          { label: "In flight", value: (backend) => String(backend.inFlightQueries ?? 0) },
        ],
        status.backends,
        (backend) => ({ "data-backend": backend.url }),
        "No backends.",
      ),
    );
  });
  return ticker.stop;
}

// ---- routing -------------------------------------------------------------------------------------

async function route() {
  stopView();
  stopView = () => {};
  if (!sessionStorage.getItem(tokenKey)) {
    loginView();
    return;
  }
  try {
    await loadSession();
  } catch (error) {
    if (error.status !== 401) loginView(`Could not reach the lifecycle API: ${error.message}`);
    return;
  }
  nav.hidden = false;
  logoutButton.hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/";
  const parts = hash
    .split("/")
    .filter(Boolean)
    .map((part) => decodeURIComponent(part));
  for (const link of nav.querySelectorAll("a")) link.classList.toggle("active", link.dataset.view === (parts[0] ?? "runtimes"));
  if (parts[0] === "runtime" && parts.length === 3) stopView = runtimeView(parts[1], parts[2]);
  else if (parts[0] === "gateway") stopView = gatewayView();
  else stopView = runtimesView();
}

window.addEventListener("hashchange", route);
route();
