// A list's subscribers: a page at a time, by status, or one found by address; one opened shows
// its attributes, its status (to change) and its consent history.
import { ApiError, api, busy, byId, el, emptyRow, fillBody, fillSelect, labelCells, path, row, say, when, words } from "./core.js";

const STATUSES = ["subscribed", "unsubscribed", "bounced", "complained"];
const state = { list: null, cursor: null, open: null };

export function setup() {
  fillSelect(byId("subscribers-status"), STATUSES.map((s) => [s, words(s)]), "any");
  fillSelect(byId("status-select"), STATUSES.map((s) => [s, words(s)]));
  byId("subscribers-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy(byId("subscribers-find"), find);
  });
  byId("subscribers-list").addEventListener("change", (event) => {
    location.hash = `#subscribers/${encodeURIComponent(event.target.value)}`;
  });
  byId("subscribers-status").addEventListener("change", () => load(false));
  byId("subscribers-topic").addEventListener("change", () => load(false));
  byId("subscribers-more").addEventListener("click", (event) => busy(event.currentTarget, () => load(true)));
  byId("status-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy(byId("status-save"), changeStatus);
  });
}

export async function show(listId) {
  const page = await api("GET", "/lists?limit=1000");
  fillSelect(byId("subscribers-list"), page.lists.map((l) => [l.list_id, l.name || l.list_id]));
  const wanted = listId || byId("subscribers-list").value;
  if (!wanted) {
    say("subscribers-notice", "No lists yet: create one under Lists");
    return;
  }
  byId("subscribers-list").value = wanted;
  if (wanted !== state.list) {
    state.list = wanted;
    byId("subscriber").hidden = true;
    const list = page.lists.find((l) => l.list_id === wanted);
    const options = (list ? list.topics : []).flatMap((t) => [
      [`in:${t.id}`, `in ${t.name}`], [`out:${t.id}`, `out of ${t.name}`]]);
    fillSelect(byId("subscribers-topic"), options, "any");
    await load(false);
  }
}

export async function refresh() {
  // nothing moves here by itself often enough to redraw every second
}

async function load(more) {
  const query = new URLSearchParams({ limit: "50" });
  const status = byId("subscribers-status").value;
  if (status) query.set("status", status);
  const [side, topic] = byId("subscribers-topic").value.split(":");
  if (topic) {
    query.set("topic", topic);
    query.set("topic_in", side === "in" ? "true" : "false");
  }
  if (more && state.cursor) query.set("cursor", state.cursor);
  const page = await api("GET", `${path("/lists", state.list)}/subscribers?${query}`);
  state.cursor = page.next_cursor;
  const body = byId("subscribers").querySelector("tbody");
  const rows = page.subscribers.map(subscriberRow);
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  if (!body.children.length) body.append(emptyRow(3, page.next_cursor ? "None in this part of the list: next page" : "No subscribers"));
  labelCells(byId("subscribers"));
  byId("subscribers-more").hidden = !page.next_cursor;
}

function subscriberRow(subscriber) {
  const link = el("a", subscriber.email);
  link.href = "#";
  link.addEventListener("click", (event) => {
    event.preventDefault();
    openFromTable(subscriber).catch((error) => say("subscribers-notice", error.message, true));
  });
  const address = el("td", null, "wrap");
  address.append(link);
  const status = el("td");
  status.append(el("span", words(subscriber.status), `status ${subscriber.status}`));
  const attributes = Object.entries(subscriber.attributes).map(([k, v]) => `${k}: ${v}`).join(", ");
  const tr = row(address, status, el("td", attributes || "–", "muted wrap"));
  tr.dataset.email = subscriber.email;
  return tr;
}

// A page of subscribers carries no consent history (only one subscriber's read has it): the
// one opened is read on its own, as "Find an address" does.
async function openFromTable(subscriber) {
  const url = path(`${path("/lists", subscriber.list_id || state.list)}/subscribers`, subscriber.email);
  open(await api("GET", url));
}

async function find() {
  const address = byId("subscribers-search").value.trim();
  if (!address) {
    await load(false);
    return;
  }
  try {
    open(await api("GET", path(`${path("/lists", state.list)}/subscribers`, address)));
  } catch (error) {
    const message = error instanceof ApiError && error.status === 404
      ? `${address} is not in ${state.list}` : error.message;
    say("subscribers-notice", message, true);
  }
}

function open(subscriber) {
  state.open = subscriber;
  byId("subscriber").hidden = false;
  byId("subscriber-title").textContent = subscriber.email;
  const status = byId("subscriber-status");
  status.textContent = words(subscriber.status);
  status.className = `status ${subscriber.status}`;
  byId("status-select").value = subscriber.status;
  byId("status-form").elements.force.checked = false;
  const attributes = Object.entries(subscriber.attributes);
  byId("subscriber-attributes").querySelector("tbody").replaceChildren(
    ...attributes.map(([k, v]) => { const tr = el("tr"); tr.append(el("th", k), el("td", v, "wrap")); return tr; }),
  );
  if (!attributes.length) byId("subscriber-attributes").querySelector("tbody").append(emptyRow(2, "None"));
  const topics = Object.entries(subscriber.topics || {});
  byId("subscriber-topics").querySelector("tbody").replaceChildren(
    ...topics.map(([k, joined]) => { const tr = el("tr"); tr.append(el("th", k), el("td", joined ? "in" : "out")); return tr; }),
  );
  if (!topics.length) byId("subscriber-topics").querySelector("tbody").append(emptyRow(2, "The list has no topics"));
  fillBody(byId("history"), [...subscriber.history].reverse().map((change) => row(
    when(change.at),
    change.topic ? `${change.topic_in ? "joined" : "left"} topic ${change.topic}`
      : `${change.previous ? words(change.previous) : "new"} → ${words(change.status)}`,
    el("td", change.detail ? `${change.how}: ${change.detail}` : change.how, "wrap"),
    el("td", change.source || "–", "wrap"),
  )), "No recorded changes");
  byId("subscriber").scrollIntoView({ block: "start" });
}

async function changeStatus() {
  const subscriber = state.open;
  const form = byId("status-form");
  const body = { status: form.elements.status.value, force: form.elements.force.checked };
  try {
    const url = `${path(`${path("/lists", subscriber.list_id)}/subscribers`, subscriber.email)}/status`;
    const changed = await api("POST", url, body);
    open(changed);
    say("subscriber-notice", `${changed.email} is now ${words(changed.status)}`);
    await load(false);
  } catch (error) {
    say("subscriber-notice", error.message, true);
  }
}
