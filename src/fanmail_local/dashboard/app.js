// The fanmail dashboard: plain JavaScript over the admin API (same origin), no build step.
// Every value from the API is put in the page as text (textContent), never as markup; an
// email's HTML is shown only in an iframe sandboxed without scripts.
"use strict";

// Where a recipient can end up (sent, failed, ...) comes from the API: each campaign view
// lists its `outcomes`, the names of the counts in its progress and summary.
const FEEDBACK = [
  ["delivered", "delivered"], ["bounced", "bounced"], ["complained", "complained"],
  ["opened", "opened"], ["clicked", "clicked"],
];
const ACTIONS = {
  send: { statuses: ["draft", "scheduled"], ask: "Send this campaign to every subscriber of its list now?" },
  pause: { statuses: ["sending"], ask: "Pause this campaign after the sends under way?" },
  resume: { statuses: ["paused", "waiting_for_quota", "waiting_for_ses", "failed"], ask: "Resume from where it stopped?" },
  cancel: { statuses: ["draft", "scheduled", "sending", "paused", "waiting_for_quota", "waiting_for_ses"], ask: "Cancel this campaign for good? It cannot be sent afterwards." },
};

const state = { selected: null, campaign: null, samples: [], emailFor: null, outboxSeen: -1 };

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

// What the console admits the dashboard's requests by: the token its page was served with, or
// (a console listening beyond this machine) the operator's, given once as #token=... in the URL.
function consoleToken() {
  const fragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fragment) {
    sessionStorage.setItem("fanmail-token", fragment);
    history.replaceState(null, "", location.pathname + location.search);
  }
  const served = document.querySelector('meta[name="fanmail-token"]').content;
  return served || sessionStorage.getItem("fanmail-token") || "";
}
const TOKEN = consoleToken();

async function api(method, path, body) {
  const init = { method, headers: { accept: "application/json", "x-fanmail-token": TOKEN } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const answer = await fetch(path, init);
  const text = await answer.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: { message: text } }; }
  if (!answer.ok) {
    const message = (data && data.error && data.error.message) || answer.statusText;
    throw new Error(`${method} ${path}: ${answer.status} ${message}`);
  }
  return data;
}

function notify(message, isError) {
  const notice = document.getElementById("notice");
  notice.textContent = message;
  notice.className = isError ? "error" : "ok";
  notice.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { notice.hidden = true; }, isError ? 12000 : 5000);
}

function ask(question) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = question;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}

function settled(view, progress) {
  return view.outcomes.reduce((sum, key) => sum + Number(progress[key] || 0), 0);
}

function progressOf(view) {
  const progress = view.summary || view.progress || {};
  const total = Number(progress.recipients || progress.estimated_recipients || progress.recipients_seen || 0);
  const done = settled(view, progress);
  const percent = total ? Math.min(100, Math.floor((100 * done) / total)) : (view.summary ? 100 : 0);
  return { progress, total, done, percent };
}

// -- lists and campaigns -------------------------------------------------------------------

async function loadLists() {
  const page = await api("GET", "/lists?limit=100");
  const body = document.querySelector("#lists tbody");
  body.replaceChildren();
  const select = document.querySelector("#create-form select[name=list_id]");
  const chosen = select.value;
  select.replaceChildren();
  for (const list of page.lists) {
    const row = el("tr");
    row.dataset.id = list.list_id;
    const name = el("td");
    name.append(el("strong", list.name || list.list_id), el("div", list.list_id, "muted"));
    const others = Object.entries(list.subscribers)
      .filter(([status]) => status !== "subscribed")
      .map(([status, n]) => `${status} ${n}`).join(", ");
    row.append(name, el("td", list.subscribers.subscribed || 0, "number"), el("td", others || "–", "muted"));
    body.append(row);
    select.append(new Option(list.name || list.list_id, list.list_id));
  }
  if (!page.lists.length) body.append(emptyRow(3, "No lists yet: POST /lists or fanmail lists create"));
  if (chosen) select.value = chosen;
}

function emptyRow(span, text) {
  const row = el("tr");
  const cell = el("td", text, "muted");
  cell.colSpan = span;
  row.append(cell);
  return row;
}

async function loadCampaigns() {
  const page = await api("GET", "/campaigns?limit=100");
  const campaigns = page.campaigns.sort((a, b) => b.created_at - a.created_at);
  const body = document.querySelector("#campaigns tbody");
  body.replaceChildren();
  for (const view of campaigns) {
    const row = el("tr");
    row.dataset.id = view.campaign_id;
    row.tabIndex = 0;
    if (view.campaign_id === state.selected) row.className = "selected";
    const name = el("td");
    name.append(el("strong", view.campaign_id), el("div", `${view.list_id} · ${view.template}`, "muted"));
    const { percent } = progressOf(view);
    const bar = el("div", null, "mini");
    const fill = el("div");
    fill.style.width = `${percent}%`;
    bar.append(fill);
    const cell = el("td");
    cell.append(bar, el("span", `${percent}%`, "muted"));
    row.append(name, statusCell(view), cell);
    row.addEventListener("click", () => select(view.campaign_id));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") select(view.campaign_id); });
    body.append(row);
  }
  if (!campaigns.length) body.append(emptyRow(3, "No campaigns yet"));
}

function statusCell(view) {
  const cell = el("td");
  cell.append(el("span", view.stalled ? `${view.status} (stalled)` : view.status, `status ${view.status}`));
  return cell;
}

async function loadTemplates() {
  const names = await api("GET", "/templates");
  const select = document.querySelector("#create-form select[name=template]");
  select.replaceChildren(...names.templates.map((name) => new Option(name, name)));
}

// -- the selected campaign -------------------------------------------------------------------

async function select(campaignId) {
  state.selected = campaignId;
  state.samples = [];
  state.emailFor = null;
  document.querySelectorAll("#campaigns tbody tr").forEach((row) => {
    row.className = row.dataset.id === campaignId ? "selected" : "";
  });
  await refreshCampaign();
}

async function refreshCampaign() {
  if (!state.selected) return;
  const view = await api("GET", `/campaigns/${encodeURIComponent(state.selected)}`);
  state.campaign = view;
  document.getElementById("empty").hidden = true;
  document.getElementById("campaign").hidden = false;
  document.getElementById("campaign-title").textContent = view.campaign_id;
  document.getElementById("campaign-meta").textContent =
    `list ${view.list_id} · template ${view.template} · from ${view.sender}`;
  const status = document.getElementById("status");
  status.textContent = view.paused_reason ? `${view.status}: ${view.paused_reason}` : view.status;
  status.className = `status ${view.status}`;
  const warnings = document.getElementById("warnings");
  warnings.replaceChildren(...view.warnings.map((w) => el("li", w)));

  const { progress, total, done, percent } = progressOf(view);
  document.getElementById("progress-bar").style.width = `${percent}%`;
  document.getElementById("progress").setAttribute("aria-valuenow", String(percent));
  document.getElementById("progress-text").textContent = total
    ? `${done.toLocaleString()} of ${total.toLocaleString()} recipients settled (${percent}%)`
    : view.status === "draft" ? "Not sent yet" : "Counting recipients…";
  showRate(view, progress);
  showFigures(view, progress);
  drawChart(view);
  showPhases(view);
  for (const [action, rule] of Object.entries(ACTIONS)) {
    document.getElementById(action).disabled = !rule.statuses.includes(view.status) && !(action === "resume" && view.stalled);
  }
  if (state.emailFor !== view.campaign_id) {
    state.emailFor = view.campaign_id;
    showCampaignEmail(view.campaign_id).catch((e) => notify(e.message, true));
  }
}

function showRate(view, progress) {
  const now = Date.now() / 1000;
  state.samples.push([now, Number(progress.sent || 0)]);
  state.samples = state.samples.filter(([t]) => now - t <= 5);
  const [t0, s0] = state.samples[0];
  let rate = now - t0 >= 1 ? (Number(progress.sent || 0) - s0) / (now - t0) : 0;
  if (view.status !== "sending" && view.summary) rate = Number(view.summary.achieved_rate || 0);
  const limit = view.max_send_rate;
  const label = view.status === "sending" ? "sending at" : "averaged";
  document.getElementById("rate").textContent = limit
    ? `${label} ${rate.toFixed(1)} sends/s of MaxSendRate ${limit} (${Math.round((100 * rate) / limit)}%)`
    : "";
}

function showFigures(view, progress) {
  const figures = document.getElementById("figures");
  figures.replaceChildren();
  const add = (label, value, hint) => {
    const box = el("div", null, "figure");
    box.dataset.name = label;
    box.append(el("strong", value), el("span", label));
    if (hint) box.title = hint;
    figures.append(box);
  };
  for (const key of view.outcomes) add(key.replaceAll("_", " "), Number(progress[key] || 0).toLocaleString());
  for (const [key, label] of FEEDBACK) add(label, Number(view.feedback[key] || 0).toLocaleString());
  add("bounce rate", `${(100 * view.feedback.bounce_rate).toFixed(2)}%`, "bounced / sent (SES reviews an account at 5%)");
  add("complaint rate", `${(100 * view.feedback.complaint_rate).toFixed(3)}%`, "complained / delivered (keep under 0.1%)");
}

// A run in phases (local time, A/B test): the timeline, each phase's counts once it closed,
// the problems found before sending, and the A/B decision with its figures.
function showPhases(view) {
  const section = document.getElementById("phases");
  const phases = view.phases;
  section.hidden = !phases;
  if (!phases) return;
  document.getElementById("phase-problems").replaceChildren(...phases.problems.map((p) => el("li", p)));
  const rows = phases.phases.map((phase, index) => {
    const sent = Object.keys(phase.counts).length ? Number(phase.counts.sent || 0).toLocaleString() : "";
    const state = Object.keys(phase.counts).length ? "done" : index === phases.current ? "current" : "waiting";
    const row = el("tr");
    row.dataset.kind = phase.kind;
    row.append(
      el("td", String(index + 1)),
      el("td", phase.label),
      el("td", new Date(phase.instant * 1000).toLocaleString()),
      el("td", Number(phase.planned_recipients).toLocaleString()),
      el("td", sent),
      el("td", phase.fits ? state : `${state} (late: needs ${Math.ceil(phase.required_rate || 0)}/s)`),
    );
    return row;
  });
  document.querySelector("#phase-table tbody").replaceChildren(...rows);
  const decision = phases.decision;
  document.getElementById("decision").hidden = !decision;
  if (!decision) return;
  document.getElementById("decision-reason").textContent = decision.reason;
  const caveat = document.getElementById("decision-caveat");
  caveat.hidden = !decision.caveat;
  caveat.textContent = decision.caveat || "";
  document.querySelector("#decision-table tbody").replaceChildren(
    ...decision.variants.map((v) => {
      const row = el("tr", null, v.name === decision.winner ? "winner" : "");
      row.append(
        el("td", v.name), el("td", Number(v.delivered).toLocaleString()),
        el("td", Number(v.successes).toLocaleString()),
        el("td", v.rate === null ? "" : `${(100 * v.rate).toFixed(2)}%`),
        el("td", `${(100 * v.confidence).toFixed(1)}%`),
      );
      return row;
    }),
  );
}

function drawChart(view) {
  const chart = document.getElementById("chart");
  const points = view.sends_over_time || [];
  chart.replaceChildren();
  if (!points.length) {
    chart.append(el("p", "No sends yet", "muted"));
    return;
  }
  const NS = "http://www.w3.org/2000/svg";
  const width = 600, height = 160, pad = 28;
  const last = points[points.length - 1];
  const start = points[0][0], end = last[0] + last[2];
  const limit = Number(view.max_send_rate || 0);
  // A bucket the run began in, or is still filling, covers less than its width.
  const now = Date.now() / 1000;
  const perSecond = ([t, n, w]) => {
    const from = Math.max(t, Number(view.started_at || t));
    const to = view.status === "sending" ? Math.min(t + w, now) : t + w;
    return n / Math.max(1, to - from);
  };
  const top = Math.max(limit, ...points.map(perSecond)) * 1.1 || 1;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "sends per second over time");
  const x = (t) => pad + ((t - start) / Math.max(10, end - start)) * (width - pad - 4);
  const y = (v) => height - pad - (v / top) * (height - 2 * pad);
  for (const point of points) {
    const [t, , w] = point;
    const rate = perSecond(point);
    const bar = document.createElementNS(NS, "rect");
    bar.setAttribute("x", x(t));
    bar.setAttribute("y", y(rate));
    bar.setAttribute("width", Math.max(1, x(t + w) - x(t) - 1));
    bar.setAttribute("height", Math.max(0, height - pad - y(rate)));
    bar.setAttribute("class", "bar");
    const tip = document.createElementNS(NS, "title");
    tip.textContent = `${new Date(t * 1000).toLocaleTimeString()}: ${rate.toFixed(1)} sends/s`;
    bar.append(tip);
    svg.append(bar);
  }
  if (limit) {
    const line = document.createElementNS(NS, "line");
    line.setAttribute("x1", pad); line.setAttribute("x2", width - 4);
    line.setAttribute("y1", y(limit)); line.setAttribute("y2", y(limit));
    line.setAttribute("class", "limit");
    svg.append(line, svgText(NS, width - 6, y(limit) - 4, `MaxSendRate ${limit}/s`, "end"));
  }
  svg.append(
    svgText(NS, pad, height - 8, new Date(start * 1000).toLocaleTimeString(), "start"),
    svgText(NS, width - 4, height - 8, new Date(end * 1000).toLocaleTimeString(), "end"),
    svgText(NS, 2, pad, `${Math.round(top)}`, "start"),
  );
  chart.append(svg);
}

function svgText(NS, x, y, text, anchor) {
  const node = document.createElementNS(NS, "text");
  node.setAttribute("x", x);
  node.setAttribute("y", y);
  node.setAttribute("text-anchor", anchor);
  node.textContent = text;
  return node;
}

async function act(action) {
  const view = state.campaign;
  if (!view || !(await ask(`${ACTIONS[action].ask}\n\n${view.campaign_id}`))) return;
  try {
    const answer = await api("POST", `/campaigns/${encodeURIComponent(view.campaign_id)}/${action}`);
    notify(`${view.campaign_id}: ${answer.status}`);
  } catch (error) {
    notify(error.message, true);
  }
  await refresh();
}

async function testSend() {
  const view = state.campaign;
  const dialog = document.getElementById("test-dialog");
  dialog.returnValue = "";
  dialog.showModal();
  const confirmed = await new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
  if (!confirmed || !view) return;
  const to = document.getElementById("test-to").value.split(",").map((s) => s.trim()).filter(Boolean);
  const as = document.getElementById("test-as").value.trim();
  try {
    const body = as ? { to, as_subscriber: as } : { to };
    const sent = await api("POST", `/campaigns/${encodeURIComponent(view.campaign_id)}/test`, body);
    notify(`Test sent to ${sent.sent.map((s) => s.to).join(", ")}: "${sent.subject}" as ${sent.rendered_as}`);
  } catch (error) {
    notify(error.message, true);
  }
  await loadOutbox();
}

// -- emails: a campaign's preview, or a message from the outbox -----------------------------

async function showCampaignEmail(campaignId) {
  try {
    const preview = await api("GET", `/campaigns/${encodeURIComponent(campaignId)}/preview`);
    showEmail(`Preview: ${preview.subject}`, preview);
  } catch (error) {
    if (!String(error.message).includes(" 404 ")) throw error;
    document.getElementById("email").hidden = true;  // an empty list: no one to render as
  }
}

function showEmail(title, message) {
  document.getElementById("email").hidden = false;
  document.getElementById("email-title").textContent = title;
  document.getElementById("email-html").srcdoc = message.html;
  document.getElementById("email-text").textContent = message.text;
  const body = document.querySelector("#email-headers tbody");
  body.replaceChildren(...Object.entries(message.headers).map(([name, value]) => {
    const row = el("tr");
    row.append(el("th", name), el("td", value));
    return row;
  }));
}

function showTab(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  }
  document.getElementById("email-html").hidden = name !== "html";
  document.getElementById("email-text").hidden = name !== "text";
  document.getElementById("email-headers").hidden = name !== "headers";
}

async function loadOutbox() {
  if (!state.config.outbox) return;
  const page = await api("GET", "/outbox");
  document.getElementById("outbox-card").hidden = false;
  document.getElementById("outbox-total").textContent = `(${page.total.toLocaleString()})`;
  if (page.total === state.outboxSeen) return;
  state.outboxSeen = page.total;
  const body = document.querySelector("#outbox tbody");
  body.replaceChildren(...page.messages.slice(0, 50).map((message) => {
    const row = el("tr");
    row.tabIndex = 0;
    row.dataset.name = message.name;
    row.append(el("td", message.to), el("td", message.subject));
    const open = async () => {
      try {
        const shown = await api("GET", `/outbox/${encodeURIComponent(message.name)}`);
        showEmail(`Sent to ${message.to}`, shown);
      } catch (error) { notify(error.message, true); }
    };
    row.addEventListener("click", open);
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    return row;
  }));
  if (!page.messages.length) body.append(emptyRow(2, "Nothing sent yet"));
}

// -- wiring ----------------------------------------------------------------------------------

async function refresh() {
  try {
    await Promise.all([loadLists(), loadCampaigns(), refreshCampaign(), loadOutbox()]);
  } catch (error) {
    notify(error.message, true);
  }
}

async function create(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { list_id: form.get("list_id"), template: form.get("template"), sender: form.get("sender") };
  if (form.get("subject")) body.subject = form.get("subject");
  try {
    const view = await api("POST", "/campaigns", body);
    notify(`Created ${view.campaign_id}${view.warnings.length ? `: ${view.warnings[0]}` : ""}`);
    await loadCampaigns();
    await select(view.campaign_id);
  } catch (error) {
    notify(error.message, true);
  }
}

// A person's data: what is held about an address (GET /people/{email}), and its erasure,
// confirmed by typing the address again (DELETE /people/{email}).
function describePerson(person) {
  const lines = [person.email, ""];
  for (const m of person.memberships) {
    lines.push(`list ${m.list_id}: ${m.status} ${JSON.stringify(m.attributes)}`);
    for (const c of m.consent_history) lines.push(`  ${new Date(c.at * 1000).toISOString()} ${c.status} by ${c.how} ${c.source}`);
  }
  for (const c of person.campaigns) lines.push(`campaign ${c.campaign_id}: ${c.status}, message ${c.message_id}, events ${c.events.join(", ") || "none"}`);
  for (const s of person.signups) lines.push(`sign-up waiting on ${s.list_id} from ${s.source}`);
  for (const r of person.rejected_rows) lines.push(`rejected row ${r.import_id} line ${r.line}: ${r.reason}`);
  if (person.next_cursor) lines.push("(more campaigns: GET /people/{email}?cursor=...)");
  return lines.join("\n");
}

async function lookUp(event) {
  event.preventDefault();
  const email = document.getElementById("person-email").value.trim();
  const card = document.getElementById("person");
  try {
    const person = await api("GET", `/people/${encodeURIComponent(email)}`);
    document.getElementById("person-data").textContent = describePerson(person);
    card.dataset.email = person.email;
    card.hidden = false;
  } catch (error) {
    card.hidden = true;
    notify(error.message, true);
  }
}

async function erase(event) {
  event.preventDefault();
  const card = document.getElementById("person");
  const typed = document.getElementById("erase-typed").value.trim().toLowerCase();
  if (typed !== card.dataset.email) {
    notify("The address typed is not the one shown: nothing was erased", true);
    return;
  }
  try {
    const receipt = await api("DELETE", `/people/${encodeURIComponent(card.dataset.email)}`);
    const removed = Object.entries(receipt.removed).map(([k, n]) => `${n} ${k}`).join(", ");
    notify(`Erased (receipt ${receipt.erasure_id}): ${removed}`);
    card.hidden = true;
    document.getElementById("erase-typed").value = "";
    await loadLists();
  } catch (error) {
    notify(error.message, true);
  }
}

async function start() {
  state.config = await api("GET", "/dashboard/config.json");
  document.getElementById("mode").textContent = state.config.mode === "local" ? "local stand-in" : state.config.mode;
  for (const action of Object.keys(ACTIONS)) {
    document.getElementById(action).addEventListener("click", () => act(action));
  }
  document.getElementById("test").addEventListener("click", testSend);
  document.getElementById("create-form").addEventListener("submit", create);
  document.getElementById("person-form").addEventListener("submit", lookUp);
  document.getElementById("erase-form").addEventListener("submit", erase);
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => showTab(tab.dataset.tab));
  }
  const wanted = new URLSearchParams(location.search).get("campaign");
  await Promise.all([loadTemplates(), refresh()]);
  if (wanted) await select(wanted);
  setInterval(refresh, 1000);
}

start().catch((error) => notify(error.message, true));
