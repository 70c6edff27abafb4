// The on-call dashboard: plain DOM, no framework, no third-party code. It reads GET /v1/dashboard
// every few seconds with the admin key the person typed, kept in sessionStorage (this tab only)
// and sent as `Authorization: Bearer`, never in a URL. Every value from the API is written as
// text (textContent), never as HTML.

const KEY = "meterline.adminKey";
const REFRESH_MS = 5_000;
/** Dead letters one confirmed action changes at most (the API's default limit). */
const BATCH = 1000;
const ACTIONS = {
  retry: { verb: "Retry", done: "retried", would: "would be retried" },
  discard: { verb: "Discard", done: "discarded", would: "would be discarded" },
  resolve: {
    verb: "Resolve",
    done: "resolved as delivered",
    would: "would be resolved as delivered",
  },
};

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no element #${id}`);
  return el;
};

/** An element with a class and text. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

const number = new Intl.NumberFormat("en-US");

/** 0.4 → "0 s", 75 → "1 min 15 s", 9000 → "2 h 30 min". */
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60 ? `${s % 60} s` : ""}`.trim();
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** An ISO time as "12 s ago" / "in 4 s". */
function relative(iso) {
  const s = (Date.parse(iso) - Date.now()) / 1000;
  return s >= 0 ? `in ${duration(s)}` : `${duration(-s)} ago`;
}

/** An ISO time as "29 Nov, 22:00". */
function shortTime(iso) {
  return new Date(iso).toLocaleString([], {
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** Why an API call failed, in the person's words. */
class ApiFailure extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY);
  const headers = { authorization: `Bearer ${key}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
    });
  } catch {
    throw new ApiFailure(0, "Meterline does not answer: is it running?");
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiFailure(res.status, explain(res.status, body));
  return body;
}

function explain(status, body) {
  if (status === 401) return "That key is not valid: unknown or revoked.";
  if (status === 403) return "That key is not an admin key: the dashboard needs one (role admin).";
  return body?.error?.message ?? `Meterline answered ${status}.`;
}

// ---- sign-in ----

function showSignIn(message) {
  sessionStorage.removeItem(KEY);
  stopRefresh();
  $("board").hidden = true;
  $("session").hidden = true;
  $("sign-in").hidden = false;
  const error = $("sign-in-error");
  error.hidden = !message;
  error.textContent = message ?? "";
  $("key").value = "";
  $("key").focus();
}

function showBoard() {
  $("sign-in").hidden = true;
  $("board").hidden = false;
  $("session").hidden = false;
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("key").value.trim();
  if (!key) return;
  const button = $("sign-in-button");
  button.disabled = true;
  sessionStorage.setItem(KEY, key);
  try {
    const data = await api("/v1/dashboard");
    showBoard();
    render(data);
    startRefresh();
  } catch (err) {
    showSignIn(err.message);
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", () => showSignIn(null));

// ---- refresh ----

let timer = null;

function startRefresh() {
  stopRefresh();
  timer = setInterval(refresh, REFRESH_MS);
}

function stopRefresh() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

/** Reads and shows the dashboard; false when the key no longer works (back to sign-in). */
async function refresh() {
  try {
    render(await api("/v1/dashboard"));
    $("board-error").hidden = true;
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      showSignIn(err.message);
      return false;
    }
    $("board-error").textContent = err.message;
    $("board-error").hidden = false;
  }
  return true;
}

// ---- rendering ----

function render(data) {
  renderQueue(data.queue);
  renderThroughput(data.throughput);
  renderCircuits(data.circuits);
  renderDeadLetters(data.dead_letters);
  renderWorkers(data.workers);
  renderReconciliation(data.reconciliation);
  $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function renderQueue(q) {
  $("q-pending").textContent = number.format(q.pending);
  $("q-lag").textContent = duration(q.lag_s);
  $("q-lag").classList.toggle("alert", q.lag_s >= 60);
  $("q-age").textContent = duration(q.oldest_pending_age_s);
  $("q-leased").textContent = number.format(q.leased);
  const rows = Object.entries(q.by_wait_reason)
    .filter(([reason]) => reason !== "none")
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => {
      const tr = el("tr");
      tr.append(el("td", "code", `waiting: ${reason}`), el("td", "num", number.format(n)));
      return tr;
    });
  $("q-reasons").replaceChildren(...rows);
}

function renderThroughput(t) {
  $("t-reported").textContent = number.format(t.reported);
  $("t-failed").textContent = number.format(t.failed);
  $("t-failed").classList.toggle("alert", t.failed > 0);
  const byMinute = new Map(t.minutes.map((m) => [m.minute, m]));
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  const minutes = [];
  for (let i = 59; i >= 0; i--) {
    const at = new Date(now - i * 60_000).toISOString().replace(".000Z", "Z");
    minutes.push(byMinute.get(at) ?? { minute: at, reported: 0, failed: 0 });
  }
  const last5 = minutes.slice(-5).reduce((sum, m) => sum + m.reported, 0);
  $("t-rate").textContent = number.format(Math.round(last5 / 5));
  const top = Math.max(1, ...minutes.map((m) => m.reported + m.failed));
  const bars = minutes.map((m) => {
    const col = el("div", "bar-col");
    col.title = `${new Date(m.minute).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ${m.reported} reported, ${m.failed} dead-lettered`;
    const reported = el("div", "seg-reported");
    reported.style.height = `${(m.reported / top) * 100}%`;
    const failed = el("div", "seg-failed");
    failed.style.height = `${(m.failed / top) * 100}%`;
    col.append(reported, failed);
    return col;
  });
  $("t-chart").replaceChildren(...bars);
}

function renderCircuits(circuits) {
  $("c-none").hidden = circuits.length > 0;
  const items = circuits.map((c) => {
    const li = el("li");
    li.dataset.scope = c.scope;
    li.append(
      el("div", "scope", `Open: ${c.scope}`),
      el("div", "reason", c.reason),
      el(
        "div",
        "when",
        `opened ${relative(c.opened_at)} by ${c.opened_by} · next probe ${relative(c.next_probe_at)}`,
      ),
    );
    return li;
  });
  $("c-list").replaceChildren(...items);
}

function renderDeadLetters(groups) {
  const total = groups.reduce((sum, g) => sum + g.count, 0);
  $("d-total").textContent = total ? `${number.format(total)} by reason` : "";
  $("d-none").hidden = groups.length > 0;
  $("d-table").hidden = groups.length === 0;
  const rows = groups.map((g) => {
    const tr = el("tr");
    tr.dataset.code = g.code;
    const buttons = el("td", "buttons");
    for (const [action, words] of Object.entries(ACTIONS)) {
      const button = el("button", "small", words.verb);
      button.type = "button";
      button.dataset.action = action;
      button.addEventListener("click", () => dryRun(action, g.code));
      buttons.append(button);
    }
    tr.append(
      el("td", "code", g.code),
      el("td", "num", number.format(g.count)),
      el("td", "step", g.next_step ?? "Stripe's own code: read the last answer (meterline trace)"),
      buttons,
    );
    return tr;
  });
  $("d-rows").replaceChildren(...rows);
}

function renderWorkers(w) {
  $("w-count").textContent = `${w.alive} alive`;
  $("w-count").classList.toggle("alert", w.alive === 0);
  const rows = w.list.map((worker) => {
    const tr = el("tr");
    const name = el("td");
    name.append(
      el(
        "span",
        `pill ${worker.alive ? "alive" : "gone"}`,
        worker.alive ? "alive" : worker.stopped_at ? "stopped" : "gone",
      ),
    );
    name.append(document.createTextNode(worker.id));
    tr.append(
      name,
      el("td", "", `${worker.host} · ${worker.pid}`),
      el("td", "num", worker.alive ? worker.in_flight : "–"),
      el("td", "", relative(worker.last_seen_at)),
    );
    return tr;
  });
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", "muted", "No worker has run yet: events wait until one starts.");
    td.colSpan = 4;
    tr.append(td);
    rows.push(tr);
  }
  $("w-rows").replaceChildren(...rows);
}

function renderReconciliation(r) {
  const status = $("r-status");
  const facts = $("r-facts");
  if (!r) {
    status.className = "muted";
    status.textContent = "None has run yet (meterline reconcile, or POST /v1/reconciliations).";
    facts.replaceChildren();
    return;
  }
  if (r.error) {
    status.className = "error";
    status.textContent = `Failed: ${r.error}`;
  } else if (r.drift_groups > 0) {
    status.className = "error";
    status.textContent = `Drift in ${r.drift_groups} of ${r.groups} groups: meterline reconcile --latest shows them.`;
  } else {
    status.className = "ok";
    status.textContent = `No drift: Stripe counts what Meterline reported (${r.groups} groups).`;
  }
  const pairs = [
    ["Finished", relative(r.finished_at)],
    ["Range", `${shortTime(r.range_start)} – ${shortTime(r.range_end)}`],
    ["Meterline", number.format(r.meterline_total)],
    ["Stripe", number.format(r.stripe_total)],
    ["Still settling", `${r.settling_groups} groups`],
    ["Ran by", r.ran_by],
  ];
  facts.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", "", k), el("dd", "", v)]));
}

// ---- dead-letter actions: a dry run first, then the person confirms ----

let pending = null;

async function dryRun(action, code) {
  const words = ACTIONS[action];
  $("d-result").hidden = true;
  try {
    const outcome = await api(`/v1/dead-letters/${action}`, {
      method: "POST",
      body: { filter: { code }, dry_run: true },
    });
    const n = outcome.would_change ?? 0;
    // One confirm changes what the dry run counted and no more (dead letters arriving meanwhile
    // wait for the next look), and at most a batch.
    const batch = Math.min(n, BATCH);
    $("d-confirm-text").textContent =
      `${words.verb} ${code}: ${number.format(n)} of ${number.format(outcome.matched)} dead letter${outcome.matched === 1 ? "" : "s"} ${words.would}.`;
    const notes = [];
    if (outcome.refused) notes.push(outcome.refused.message);
    if (n > BATCH)
      notes.push(
        `This confirm changes the oldest ${number.format(BATCH)}; repeat it for the rest.`,
      );
    $("d-confirm-detail").textContent = notes.join(" ");
    $("d-confirm-yes").textContent = `${words.verb} ${number.format(batch)}`;
    $("d-confirm-yes").disabled = batch === 0;
    $("d-confirm-yes").classList.toggle("danger", action === "discard");
    pending = { action, code, limit: batch };
    $("d-confirm").hidden = false;
    $("d-confirm-yes").focus();
  } catch (err) {
    showResult(err.message);
  }
}

$("d-confirm-no").addEventListener("click", () => {
  pending = null;
  $("d-confirm").hidden = true;
});

$("d-confirm-yes").addEventListener("click", async () => {
  if (!pending) return;
  const { action, code, limit } = pending;
  pending = null;
  $("d-confirm").hidden = true;
  try {
    const outcome = await api(`/v1/dead-letters/${action}`, {
      method: "POST",
      body: { filter: { code }, limit },
    });
    showResult(
      `${number.format(outcome.changed)} ${code} dead letter${outcome.changed === 1 ? "" : "s"} ${ACTIONS[action].done}.`,
    );
  } catch (err) {
    showResult(err.message);
  }
  await refresh();
});

function showResult(text) {
  $("d-result").textContent = text;
  $("d-result").hidden = false;
}

// ---- start ----

if (sessionStorage.getItem(KEY)) {
  showBoard();
  refresh().then((signedIn) => signedIn && startRefresh());
} else {
  showSignIn(null);
}
