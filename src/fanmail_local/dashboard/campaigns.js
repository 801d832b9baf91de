// Campaigns: the list of them, a new draft (or an edited one), and the selected campaign: its
// schedule, progress, figures, who had a problem, links, and what can be done to it.
import {
  api, ask, browserZone, busy, byId, count, el, fillBody, fillSelect, path, percent, row, say,
  showEmail, when, wireTabs, words,
} from "./core.js";
import { showPhases } from "./phases.js";

const ACTIONS = {
  pause: { statuses: ["sending"], ask: "Pause this campaign after the sends under way?", yes: "Pause" },
  resume: { statuses: ["paused", "waiting_for_quota", "waiting_for_ses", "failed"], ask: "Resume from where it stopped?", yes: "Resume" },
  cancel: {
    statuses: ["draft", "scheduled", "sending", "paused", "waiting_for_quota", "waiting_for_ses"],
    ask: "Cancel this campaign for good? It cannot be sent afterwards.", yes: "Cancel it",
  },
};
// A run's outcomes in the tiles: "skipped" alone would read as the opted-out or bad addresses
// (also skipped); the quiet-hours outcomes say so.
const OUTCOME_WORDS = {
  skipped: "skipped (quiet hours)", deferred: "deferred (quiet hours)",
  capped: "held back (frequency cap)", excluded: "not in the audience", held_out: "held out (A/B test)",
};
const ENGAGEMENT = new Set(["sent", "delivered", "opened", "clicked", "top_links"]);
const state = {
  selected: null, view: null, samples: [], previewFor: null, subject: null, editing: null, eventType: "",
  lists: [], saved: new Map(), estimates: new Map(),
};

function one(suffix = "") {
  return path("/campaigns", state.selected) + suffix;
}

export function setup() {
  for (const action of Object.keys(ACTIONS)) {
    byId(action).addEventListener("click", (event) => act(event.currentTarget, action));
  }
  byId("send").addEventListener("click", (event) => send(event.currentTarget));
  byId("resume-anyway").addEventListener("click", (event) => resumeAnyway(event.currentTarget));
  byId("test").addEventListener("click", (event) => testSend(event.currentTarget));
  byId("schedule").addEventListener("click", (event) => schedule(event.currentTarget));
  byId("edit").addEventListener("click", editDraft);
  byId("delete-draft").addEventListener("click", (event) => deleteDraft(event.currentTarget));
  byId("create-form").addEventListener("submit", submitDraft);
  byId("create-form").elements.list_id.addEventListener("change", () => { fillTopics(); fillSender(); });
  byId("estimate").addEventListener("click", (event) => estimate(event.currentTarget));
  byId("exact-count").addEventListener("click", (event) => countExactly(event.currentTarget));
  const form = byId("create-form");
  form.elements.list_id.addEventListener("change", () => loadSaved().catch((e) => say("create-notice", e.message, true)));
  form.elements.segment_id.addEventListener("change", chooseSaved);
  // an estimate is of the list and segment it was made for
  const stale = () => { byId("segment-size").textContent = ""; };
  form.elements.segment.addEventListener("input", stale);
  form.elements.list_id.addEventListener("change", stale);
  form.elements.topic.addEventListener("change", stale);
  byId("add-variable").addEventListener("click", () => addVariable("", ""));
  byId("event-type").addEventListener("change", (event) => {
    state.eventType = event.target.value;
    loadEvents().catch((error) => say("campaign-notice", error.message, true));
  });
  wireTabs(byId("preview"));
  for (const radio of document.querySelectorAll("#schedule-dialog [name=kind]")) {
    radio.addEventListener("change", () => {
      const once = document.querySelector("#schedule-dialog [name=kind]:checked").value === "once";
      byId("schedule-at-label").hidden = !once;
      byId("schedule-expression-label").hidden = once;
    });
  }
  const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [browserZone()];
  byId("zones").replaceChildren(...zones.map((zone) => new Option(zone)));
}

export async function show(campaignId) {
  const [lists, templates] = await Promise.all([
    api("GET", "/lists?limit=1000"), api("GET", "/templates"),
  ]);
  fillSelect(document.querySelector("#create-form [name=list_id]"),
    lists.lists.map((l) => [l.list_id, l.name || l.list_id]));
  state.lists = lists.lists;
  fillTopics();
  fillSender();
  fillSelect(document.querySelector("#create-form [name=template]"), [
    ...templates.stored.map((t) => [t.name, `${t.name} (yours, version ${t.version})`]),
    ...templates.templates.map((name) => [name, `${name} (shipped)`]),
  ]);
  await loadSaved();
  await loadCampaigns();
  if (campaignId && campaignId !== state.selected) await select(campaignId);
  else await refreshCampaign();
}

export async function refresh() {
  await Promise.all([loadCampaigns(), refreshCampaign()]);
}

export function progressOf(view) {
  const progress = view.summary || view.progress || {};
  const total = Number(progress.recipients || progress.estimated_recipients || progress.recipients_seen || 0);
  const done = view.outcomes.reduce((sum, key) => sum + Number(progress[key] || 0), 0);
  // The total is the whole run's (a run in phases counts the phases still to open: their
  // recipients are pending). No total yet (nothing read, older records): 0 % until the run has
  // ended (a campaign that reached nobody is done, not stuck).
  const ended = ["sent", "cancelled", "failed"].includes(view.status);
  const share = total ? Math.min(100, Math.floor((100 * done) / total)) : (ended ? 100 : 0);
  return { progress, total, done, share };
}

async function loadCampaigns() {
  const page = await api("GET", "/campaigns?limit=100");
  const campaigns = page.campaigns.sort((a, b) => b.created_at - a.created_at);
  fillBody(byId("campaigns"), campaigns.map((view) => {
    const tr = el("tr");
    tr.dataset.id = view.campaign_id;
    tr.tabIndex = 0;
    if (view.campaign_id === state.selected) tr.className = "selected";
    const name = el("td");
    const link = el("a", view.name || view.campaign_id);
    link.href = `#campaigns/${encodeURIComponent(view.campaign_id)}`;
    name.append(link, el("div", `${view.list_id} · ${view.template}`, "muted"));
    const { share } = progressOf(view);
    const bar = el("div", null, "mini");
    const fill = el("div");
    fill.style.width = `${share}%`;
    bar.append(fill);
    const cell = el("td");
    cell.append(bar, el("span", `${share} %`, "muted"));
    tr.append(name, statusCell(view), cell);
    tr.addEventListener("click", (event) => {
      if (event.target.tagName !== "A") location.hash = link.getAttribute("href");
    });
    tr.addEventListener("keydown", (event) => { if (event.key === "Enter") location.hash = link.getAttribute("href"); });
    return tr;
  }), "No campaigns yet: create a draft below");
}

function statusCell(view) {
  const cell = el("td");
  const label = view.stalled ? `${words(view.status)} (stalled)` : words(view.status);
  cell.append(el("span", label, `status ${view.status}`));
  return cell;
}

async function select(campaignId) {
  state.selected = campaignId;
  state.samples = [];
  state.previewFor = null;
  state.eventType = "";
  for (const tr of document.querySelectorAll("#campaigns tbody tr")) {
    tr.className = tr.dataset.id === campaignId ? "selected" : "";
  }
  state.heard = null;
  await refreshCampaign();
}

async function refreshCampaign() {
  if (!state.selected) return;
  const view = await api("GET", one());
  state.view = view;
  byId("empty").hidden = true;
  byId("campaign").hidden = false;
  byId("campaign-title").textContent = view.name || view.campaign_id;
  byId("campaign-meta").textContent =
    `${view.campaign_id} · list ${view.list_id} · template ${view.template} · from ${view.sender}`;
  const status = byId("status");
  status.textContent = words(view.status);
  status.className = `status ${view.status}`;
  byId("warnings").replaceChildren(...view.warnings.map((w) => el("li", w)));
  showBreaker(view);
  showSchedule(view);
  showProgress(view);
  showFigures(view);
  drawChart(view);
  showPhases(view);
  showLinks(view);
  showButtons(view);
  const heard = JSON.stringify(view.feedback);
  if (heard !== state.heard) {
    state.heard = heard; // SES said something new: who had a problem may have changed
    loadEvents().catch((error) => say("campaign-notice", error.message, true));
  }
  if (state.previewFor !== view.campaign_id) {
    state.previewFor = view.campaign_id;
    showPreview(view.campaign_id).catch((error) => say("campaign-notice", error.message, true));
  }
}

function showBreaker(view) {
  const tripped = view.status === "paused" && Boolean(view.paused_reason);
  byId("breaker").hidden = !tripped;
  if (tripped) {
    byId("breaker-text").textContent = `fanmail paused this campaign itself: ${view.paused_reason}. `
      + "Look at who bounced or complained below first. Resuming as usual would pause it again "
      + "at the next progress check; resume anyway lets this run go past the check.";
  }
}

function showSchedule(view) {
  const spec = view.schedule;
  let text = "";
  if (view.status !== "scheduled") {
    text = "";
  } else if (spec && spec.at !== null && spec.at !== undefined) {
    text = `Scheduled once: ${when(spec.at)} in your time (${when(spec.at, spec.timezone)} in ${spec.timezone}).`;
  } else if (spec && spec.expression) {
    text = `Scheduled to repeat: ${spec.expression} in ${spec.timezone}.`;
  }
  if (view.resume_at) text += ` Goes on by itself at ${when(view.resume_at)}.`;
  byId("schedule-text").textContent = text.trim();
  byId("schedule-text").hidden = !text;
}

function showProgress(view) {
  const { progress, total, done, share } = progressOf(view);
  byId("progress-bar").style.width = `${share}%`;
  byId("progress").setAttribute("aria-valuenow", String(share));
  byId("progress-text").textContent = total
    ? `${count(done)} of ${count(total)} recipients done (${share} %)`
    : ({ draft: "Not sent yet", scheduled: "Not sent yet: waits for its time", cancelled: "Cancelled" }[view.status]
      || "Counting recipients…");
  const now = Date.now() / 1000;
  state.samples.push([now, Number(progress.sent || 0)]);
  state.samples = state.samples.filter(([t]) => now - t <= 5);
  const [t0, s0] = state.samples[0];
  let rate = now - t0 >= 1 ? (Number(progress.sent || 0) - s0) / (now - t0) : 0;
  if (view.status !== "sending" && view.summary) rate = Number(view.summary.achieved_rate || 0);
  const limit = view.max_send_rate;
  const label = view.status === "sending" ? "Sending" : "Averaged";
  byId("rate").textContent = limit && (view.status === "sending" || view.summary)
    ? `${label} ${rate.toFixed(1)} emails a second; your SES account allows ${limit} a second.`
    : "";
}

// Nothing sent yet: what the campaign will do, instead of a wall of zero outcomes.
export function notStarted(view) {
  return ["draft", "scheduled"].includes(view.status) && !view.started_at && !view.summary;
}

function showPlan(view) {
  const list = state.lists.find((l) => l.list_id === view.list_id);
  const listName = list ? (list.name || list.list_id) : view.list_id;
  const lines = [];
  if (list) {
    const subscribed = Number(list.subscribers.subscribed || 0);
    lines.push(`Goes to the list ${listName}: ${count(subscribed)} subscribed now.`);
  } else {
    lines.push(`Goes to the list ${listName}.`);
  }
  if (view.topic) lines.push(`Only those in the topic ${view.topic.name || view.topic.id}.`);
  const segment = view.topic ? segmentBeyondTopic(view) : view.segment_text;
  if (segment) {
    const saved = view.segment_id ? ` (saved segment ${view.segment_id}, version ${view.segment_version})` : "";
    lines.push(`Only those who match ${segment}${saved}.`);
  } else if (!view.topic) {
    lines.push("Every subscribed address (no segment).");
  }
  const estimate = state.estimates.get(view.campaign_id);
  if (estimate) lines.push(`Audience estimate when it was made: ${estimate}.`);
  lines.push("Opted-out and bad addresses are skipped when it is sent; its figures show here once it is.");
  byId("plan").replaceChildren(...lines.map((line) => el("p", line)));
}

function showFigures(view) {
  const planned = notStarted(view);
  byId("plan").hidden = !planned;
  byId("figures").hidden = planned;
  byId("open-caveat").hidden = planned;
  if (planned) {
    showPlan(view);
    return;
  }
  const { progress } = progressOf(view);
  const figures = byId("figures");
  figures.replaceChildren();
  const add = (name, value, hint) => {
    const box = el("div", null, "figure");
    box.dataset.name = name;
    box.append(el("strong", value), el("span", OUTCOME_WORDS[name] || words(name)));
    if (hint) box.title = hint;
    figures.append(box);
  };
  for (const key of view.outcomes) add(key, count(progress[key]));
  const feedback = view.feedback;
  for (const [key, value] of Object.entries(feedback)) {
    if (typeof value === "number" && !key.endsWith("_rate") && key !== "sent") add(key, count(value));
  }
  add("bounce rate", percent(feedback.bounce_rate, 2), "bounced of sent: SES reviews an account at 5 %");
  add("complaint rate", percent(feedback.complaint_rate, 2), "marked as spam of delivered: keep it under 0.1 %");
  add("open rate", percent(feedback.open_rate), "opened of delivered: reads high (Apple Mail Privacy Protection)");
  add("click rate", percent(feedback.click_rate), "clicked of delivered");
}

function showLinks(view) {
  const links = view.feedback.top_links || [];
  fillBody(byId("links"), links.map((link) => row(el("td", link.url, "wrap"), count(link.clicked))), "No clicks yet");
}

function showButtons(view) {
  const draft = view.status === "draft";
  byId("send").disabled = !["draft", "scheduled"].includes(view.status);
  byId("schedule").disabled = !["draft", "scheduled"].includes(view.status);
  byId("edit").hidden = !draft;
  byId("delete-draft").hidden = !draft;
  for (const [action, rule] of Object.entries(ACTIONS)) {
    const button = byId(action);
    if (button.getAttribute("aria-busy")) continue;
    button.disabled = !rule.statuses.includes(view.status) && !(action === "resume" && view.stalled);
  }
}

async function loadEvents() {
  const view = state.view;
  if (!view) return;
  const kinds = Object.entries(view.feedback)
    .filter(([key, value]) => typeof value === "number" && !key.endsWith("_rate") && !ENGAGEMENT.has(key))
    .map(([key]) => key);
  const select = byId("event-type");
  fillSelect(select, kinds.map((kind) => [kind, `${words(kind)} (${count(view.feedback[kind])})`]));
  if (state.eventType) select.value = state.eventType;
  const type = select.value || "bounced";
  const page = await api("GET", `${one("/events")}?type=${encodeURIComponent(type)}&limit=100`);
  fillBody(byId("events"), page.events.map((event) => {
    const why = Object.entries(event.details).map(([k, v]) => `${words(k)}: ${v}`).join("; ");
    return row(el("td", event.email, "wrap"), el("td", why || words(event.kind), "wrap"),
      when(Date.parse(event.occurred_at) / 1000));
  }), `No one ${words(type)}`);
}

async function showPreview(campaignId) {
  try {
    const preview = await api("GET", path("/campaigns", campaignId) + "/preview");
    state.subject = preview.subject;
    showEmail(byId("preview"), `Preview: ${preview.subject}`, preview);
  } catch (error) {
    if (error.status !== 404) throw error;
    state.subject = null;
    byId("preview").hidden = true; // an empty list: no one to render as
  }
}

async function act(button, action) {
  const view = state.view;
  const rule = ACTIONS[action];
  if (!view || !(await ask(`${rule.ask}\n\n${view.name || view.campaign_id}`, rule.yes))) return;
  await busy(button, async () => {
    try {
      const answer = await api("POST", one(`/${action}`));
      say("campaign-notice", `${view.name || view.campaign_id}: ${words(answer.status)}`);
    } catch (error) {
      say("campaign-notice", error.message, true);
    }
    await refreshCampaign();
  });
}

async function send(button) {
  const view = state.view;
  if (!view) return;
  const list = await api("GET", path("/lists", view.list_id));
  const subscribed = Number(list.subscribers.subscribed || 0);
  const subject = state.subject || view.subject || view.template;
  const question = `Send “${subject}” to ${count(subscribed)} subscriber${subscribed === 1 ? "" : "s"} of ${list.name || list.list_id}?`;
  if (!(await ask(question, "Send now"))) return;
  await busy(button, async () => {
    try {
      await api("POST", one("/send"));
      say("campaign-notice", `Sending “${subject}”`);
    } catch (error) {
      say("campaign-notice", error.message, true);
    }
    await refreshCampaign();
  });
}

async function resumeAnyway(button) {
  const view = state.view;
  const question = `Resume ${view.name || view.campaign_id} past the breaker? ${view.paused_reason}. `
    + "SES reviews an account at 5 % bounces and pauses it at 10 %.";
  if (!(await ask(question, "Resume anyway", "resume anyway"))) return;
  await busy(button, async () => {
    try {
      await api("POST", one("/resume"), { ignore_breakers: true });
      say("campaign-notice", "Resumed past the breaker");
    } catch (error) {
      say("campaign-notice", error.message, true);
    }
    await refreshCampaign();
  });
}

function dialogAnswer(dialog) {
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}

async function testSend(button) {
  const view = state.view;
  if (!view || !(await dialogAnswer(byId("test-dialog")))) return;
  const to = byId("test-to").value.split(",").map((s) => s.trim()).filter(Boolean);
  const as = byId("test-as").value.trim();
  await busy(button, async () => {
    try {
      const sent = await api("POST", one("/test"), as ? { to, as_subscriber: as } : { to });
      say("campaign-notice",
        `Test sent to ${sent.sent.map((s) => s.to).join(", ")}: “${sent.subject}” as ${sent.rendered_as}`);
    } catch (error) {
      say("campaign-notice", error.message, true);
    }
  });
}

async function schedule(button) {
  const zone = byId("schedule-zone");
  if (!zone.value) zone.value = browserZone();
  if (!(await dialogAnswer(byId("schedule-dialog")))) return;
  const once = document.querySelector("#schedule-dialog [name=kind]:checked").value === "once";
  const body = { timezone: zone.value.trim() };
  if (once) body.at = byId("schedule-at").value;
  else body.expression = byId("schedule-expression").value.trim();
  await busy(button, async () => {
    try {
      const view = await api("POST", one("/schedule"), body);
      say("campaign-notice", view.schedule && view.schedule.at
        ? `Scheduled for ${when(view.schedule.at)}` : "Scheduled");
    } catch (error) {
      say("campaign-notice", error.message, true);
    }
    await refreshCampaign();
  });
}

async function deleteDraft(button) {
  const view = state.view;
  const question = `Delete the draft ${view.name || view.campaign_id}? Nothing was sent; this cannot be undone.`;
  if (!(await ask(question, "Delete draft", view.campaign_id))) return;
  await busy(button, async () => {
    try {
      await api("DELETE", one());
      state.selected = null;
      state.view = null;
      byId("campaign").hidden = true;
      byId("preview").hidden = true;
      byId("empty").hidden = false;
      say("create-notice", `Deleted the draft ${view.campaign_id}`);
      location.hash = "#campaigns";
      await loadCampaigns();
    } catch (error) {
      say("campaign-notice", error.message, true);
    }
  });
}

function addVariable(name, value) {
  const line = el("div", null, "variable");
  const key = el("input");
  key.setAttribute("aria-label", "Variable name");
  key.placeholder = "headline";
  key.value = name;
  const text = el("input");
  text.setAttribute("aria-label", "Variable value");
  text.placeholder = "What is new";
  text.value = value;
  const remove = el("button", "Remove");
  remove.type = "button";
  remove.addEventListener("click", () => line.remove());
  line.append(key, text, remove);
  byId("variables").append(line);
}

function editDraft() {
  const view = state.view;
  const form = byId("create-form");
  state.editing = view.campaign_id;
  form.elements.name.value = view.name || "";
  form.elements.list_id.value = view.list_id;
  form.elements.template.value = view.template;
  form.elements.sender.value = view.sender;
  fillSender(true);
  form.elements.subject.value = view.subject || "";
  fillTopics();
  form.elements.topic.value = view.topic ? view.topic.id : "";
  form.elements.segment.value = view.topic ? segmentBeyondTopic(view) : (view.segment_text || "");
  loadSaved().then(() => {
    form.elements.segment_id.value = view.segment_id || "";
    form.elements.segment.readOnly = Boolean(form.elements.segment_id.value);
  }).catch((error) => say("create-notice", error.message, true));
  form.elements.urgent.checked = Boolean(view.urgent);
  byId("variables").replaceChildren();
  for (const [name, value] of Object.entries(view.variables)) addVariable(name, value);
  byId("create").textContent = "Save draft";
  byId("new-campaign").open = true;
  byId("new-campaign").querySelector("h2").textContent = `Edit ${view.name || view.campaign_id}`;
  form.elements.name.focus();
}

function draftBody(form) {
  const data = new FormData(form);
  const variables = {};
  for (const line of byId("variables").children) {
    const [key, value] = line.querySelectorAll("input");
    if (key.value.trim()) variables[key.value.trim()] = value.value;
  }
  const body = {
    name: data.get("name").trim(), list_id: data.get("list_id"), template: data.get("template"),
    variables,
  };
  body.sender = data.get("sender").trim() || null; // none: the list's sender
  body.subject = data.get("subject").trim() || null;
  body.topic = data.get("topic") || null;
  body.segment_id = data.get("segment_id") || null;
  body.segment = body.segment_id ? null : data.get("segment").trim() || null;
  body.urgent = data.get("urgent") === "on";
  return body;
}

// The campaign form's topics: those of the list chosen.
function fillTopics() {
  const form = byId("create-form");
  const list = (state.lists || []).find((l) => l.list_id === form.elements.list_id.value);
  const kept = form.elements.topic.value;
  fillSelect(byId("campaign-topic"), (list ? list.topics : []).map((t) => [t.id, t.name]), "(the whole list)");
  form.elements.topic.value = kept;
}

// The Sender field starts as the chosen list's sender (the API's default when none is given),
// for the user to change; it may be left empty when the list has one. A sender the user typed
// stays when another list is chosen. `keep`: the field's value stays as it is (a draft edited).
function fillSender(keep) {
  const form = byId("create-form");
  const input = form.elements.sender;
  const list = (state.lists || []).find((l) => l.list_id === form.elements.list_id.value);
  const listSender = (list && list.settings.sender) || "";
  if (!keep && (!input.value.trim() || input.value === input.dataset.filled)) input.value = listSender;
  input.dataset.filled = listSender;
  input.required = !listSender;
  byId("sender-hint").textContent = listSender
    ? "(empty: the list's sender)"
    : "(the list has no sender: a verified SES identity)";
}

// A draft for a topic keeps its own segment after the topic's condition (topic "x" and ...).
function segmentBeyondTopic(view) {
  const text = view.segment_text || "";
  const prefix = `topic "${view.topic.id}"`;
  return text === prefix ? "" : text.replace(`${prefix} and `, "");
}

// The chosen list's saved segments, a choice of the form (its definition is copied when the
// campaign is created).
async function loadSaved() {
  const form = byId("create-form");
  const listId = form.elements.list_id.value;
  const page = listId ? await api("GET", path("/lists", listId, "segments")) : { segments: [] };
  state.saved = new Map(page.segments.map((s) => [s.segment_id, s]));
  fillSelect(form.elements.segment_id, page.segments.map((s) => [s.segment_id, s.name]),
    "(none: the segment typed below)");
  if (!state.saved.has(form.elements.segment_id.value)) chooseSaved();
}

function chooseSaved() {
  const form = byId("create-form");
  const saved = state.saved.get(form.elements.segment_id.value);
  form.elements.segment.readOnly = Boolean(saved);
  if (saved) form.elements.segment.value = saved.segment_text;
  byId("exact-count-line").hidden = !saved;
  byId("exact-count-text").textContent = "";
  byId("segment-size").textContent = "";
  if (saved) estimate(byId("estimate"));
}

// The exact count of the chosen saved segment: a job; its progress beside the button.
async function countExactly(button) {
  const form = byId("create-form");
  const where = path("/lists", form.elements.list_id.value, "segments", form.elements.segment_id.value, "count");
  const shown = byId("exact-count-text");
  await busy(button, async () => {
    try {
      let count = await api("POST", where);
      while (count.status !== "done") {
        shown.textContent = count.text;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        count = await api("GET", where);
      }
      shown.textContent = `exactly ${count.receiving.toLocaleString("en")} would get it (${count.text})`;
    } catch (error) {
      shown.textContent = "";
      say("create-notice", error.message, true);
    }
  });
}

// A segment's size at once: the list counted, or a random sample of it with its interval.
async function estimate(button) {
  const data = new FormData(byId("create-form"));
  const shown = byId("segment-size");
  const segment = data.get("segment").trim() || 'status = "subscribed"';
  await busy(button, async () => {
    try {
      const size = await api("POST", path("/lists", data.get("list_id"), "segments/estimate"), { segment });
      shown.textContent = `${size.receiving.text} would get it`
        + (size.warnings.length ? ` (${size.warnings[0]})` : "");
    } catch (error) {
      shown.textContent = "";
      say("create-notice", error.message, true);
    }
  });
}

async function submitDraft(event) {
  event.preventDefault();
  const form = event.target;
  await busy(byId("create"), async () => {
    try {
      const body = draftBody(form);
      const editing = state.editing;
      const estimated = body.topic ? "" : byId("segment-size").textContent.trim(); // not of a topic
      const view = editing
        ? await api("PATCH", path("/campaigns", editing), body)
        : await api("POST", "/campaigns", body);
      if (estimated) state.estimates.set(view.campaign_id, estimated);
      else state.estimates.delete(view.campaign_id);
      say("create-notice", `${editing ? "Saved" : "Created"} ${view.name || view.campaign_id}`
        + (view.warnings.length ? `: ${view.warnings[0]}` : ""));
      state.editing = null;
      form.reset();
      fillSender();
      chooseSaved();
      byId("variables").replaceChildren();
      byId("create").textContent = "Create draft";
      byId("new-campaign").querySelector("h2").textContent = "New campaign";
      state.previewFor = null;
      location.hash = `#campaigns/${encodeURIComponent(view.campaign_id)}`;
      await loadCampaigns();
      await refreshCampaign();
    } catch (error) {
      say("create-notice", error.message, true);
    }
  });
}

// Sends over time, with the SES limit as a line.
function drawChart(view) {
  const chart = byId("chart");
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
  const now = Date.now() / 1000;
  // A bucket the run began in, or is still filling, covers less than its width.
  const perSecond = ([t, n, w]) => {
    const from = Math.max(t, Number(view.started_at || t));
    const to = view.status === "sending" ? Math.min(t + w, now) : t + w;
    return n / Math.max(1, to - from);
  };
  const top = Math.max(limit, ...points.map(perSecond)) * 1.1 || 1;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "emails sent a second, over time");
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
    tip.textContent = `${new Date(t * 1000).toLocaleTimeString()}: ${rate.toFixed(1)} a second`;
    bar.append(tip);
    svg.append(bar);
  }
  if (limit) {
    const line = document.createElementNS(NS, "line");
    line.setAttribute("x1", pad); line.setAttribute("x2", width - 4);
    line.setAttribute("y1", y(limit)); line.setAttribute("y2", y(limit));
    line.setAttribute("class", "limit");
    svg.append(line, svgText(NS, width - 6, y(limit) - 4, `SES limit ${limit} a second`, "end"));
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
