// Lists: create one, change its settings or name, delete an empty one; importing a file into
// a list is its own module (imports.js), shown in the same section.
import { api, ask, busy, byId, count, el, fillBody, fillSelect, inform, path, row, say, when, words } from "./core.js";
import * as imports from "./imports.js";
import * as topics from "./topics.js";
import * as segments from "./segments.js";

const state = { lists: [], editing: null };

export function setup() {
  byId("list-form").addEventListener("submit", createList);
  byId("settings-form").addEventListener("submit", saveSettings);
  byId("settings-close").addEventListener("click", () => { byId("list-settings").hidden = true; });
  imports.setup();
  topics.setup();
  segments.setup();
}

export async function show() {
  await refresh();
}

export async function refresh() {
  const page = await api("GET", "/lists?limit=1000");
  state.lists = page.lists;
  fillBody(byId("lists"), page.lists.map(listRow), "No lists yet: create one");
  fillSelect(byId("import-list"), page.lists.map((l) => [l.list_id, l.name || l.list_id]));
}

function listRow(list) {
  const name = el("td");
  name.append(el("strong", list.name || list.list_id), el("div", list.list_id, "muted"));
  if (list.signup_form) {
    const form = el("a", "Sign-up form", "small");
    form.href = list.signup_form;
    form.target = "_blank";
    form.rel = "noopener";
    const line = el("div");
    line.append(form);
    name.append(line);
  }
  const others = Object.entries(list.subscribers)
    .filter(([status]) => status !== "subscribed")
    .map(([status, n]) => `${words(status)} ${count(n)}`).join(", ");
  const actions = el("div", null, "row-actions");
  const open = el("a", "Subscribers");
  open.href = `#subscribers/${encodeURIComponent(list.list_id)}`;
  const settings = el("button", "Settings");
  settings.addEventListener("click", () => editSettings(list));
  const saved = el("button", "Segments");
  saved.addEventListener("click", () => segments.open(list));
  const importing = el("button", "Import");
  importing.addEventListener("click", () => {
    byId("import-list").value = list.list_id;
    byId("import-card").scrollIntoView({ block: "start" });
    byId("import-file").focus();
  });
  const remove = el("button", "Delete…", "danger");
  remove.addEventListener("click", () => deleteList(remove, list));
  actions.append(open, settings, saved, importing, remove);
  const cell = el("td");
  cell.append(actions);
  const tr = row(name, el("td", count(list.subscribers.subscribed), "number"), el("td", others || "–", "muted"), cell);
  tr.dataset.id = list.list_id;
  return tr;
}

async function createList(event) {
  event.preventDefault();
  const data = new FormData(event.target);
  const body = {};
  for (const key of ["list_id", "name", "brand", "postal_address"]) {
    const value = String(data.get(key) || "").trim();
    if (value) body[key] = value;
  }
  await busy(byId("list-create"), async () => {
    try {
      const created = await api("POST", "/lists", body);
      say("list-notice", `Created ${created.name}`);
      event.target.reset();
      await refresh();
    } catch (error) {
      say("list-notice", error.message, true);
    }
  });
}

function editSettings(list) {
  state.editing = list.list_id;
  const form = byId("settings-form");
  form.elements.name.value = list.name;
  for (const key of ["brand", "postal_address", "sender", "opt_in"]) form.elements[key].value = list.settings[key];
  form.elements.public_signup.checked = list.settings.public_signup;
  byId("list-settings-title").textContent = `Settings of ${list.name || list.list_id}`;
  showSignup(list);
  loadSignup(list.list_id);
  byId("list-settings").hidden = false;
  byId("list-settings").scrollIntoView({ block: "start" });
  form.elements.name.focus();
  topics.open(list).catch((error) => say("topic-notice", error.message, true));
}

async function saveSettings(event) {
  event.preventDefault();
  const data = new FormData(event.target);
  const body = {};
  for (const key of ["name", "brand", "postal_address", "sender", "opt_in"]) body[key] = String(data.get(key)).trim();
  body.public_signup = data.get("public_signup") === "on";
  await busy(byId("settings-save"), async () => {
    try {
      const saved = await api("PATCH", path("/lists", state.editing), body);
      say("settings-notice", `Saved the settings of ${saved.name}`);
      showSignup(saved);
      loadSignup(saved.list_id);
      await refresh();
    } catch (error) {
      say("settings-notice", error.message, true);
    }
  });
}

// Where the list's sign-up form is and whether it takes sign-ups, in the Settings card.
function showSignup(list) {
  const shown = byId("signup-state");
  shown.replaceChildren();
  if (!list.settings.public_signup) {
    shown.append("The sign-up form is off: its address answers “Not found” until the box above is ticked.");
  } else if (!list.settings.sender) {
    shown.append("The sign-up form is closed until the list has a sender for its confirmation mails.");
  } else {
    // the API's signup_form: the stack's public URL, where subscribers reach it
    const link = el("a", list.signup_form);
    link.href = list.signup_form;
    link.target = "_blank";
    link.rel = "noopener";
    shown.append("Sign-up form: ", link);
  }
  const closed = list.signups_closed;
  byId("signups-closed").hidden = !closed;
  byId("signups-closed").textContent = closed
    ? `Sign-ups are closed by the list's sign-up breaker until ${when(closed.until)}: ${closed.reason}. `
      + "The form turns them away until then; they open again by themselves."
    : "";
}

// One list's read says whether its sign-up breaker holds sign-ups closed (a page of lists does not).
async function loadSignup(listId) {
  try {
    const list = await api("GET", path("/lists", listId));
    if (state.editing === listId) showSignup(list);
  } catch (error) {
    say("settings-notice", error.message, true);
  }
}

async function deleteList(button, list) {
  const total = Object.values(list.subscribers).reduce((sum, n) => sum + n, 0);
  if (total) {
    // The API refuses it: no typed confirmation of a request known to be refused.
    inform("lists-notice", `${list.name || list.list_id} has ${count(total)} subscriber${total === 1 ? "" : "s"} `
      + "(of every status), and a list is deleted only when it is empty: their consent records go with it. "
      + `To empty it, export them first if you need them (fanmail export --list ${list.list_id}), `
      + `then delete each one (DELETE /lists/${list.list_id}/subscribers/ADDRESS in the API, or erase `
      + "an address everywhere under People); then delete the list here.");
    return;
  }
  const question = `Delete the empty list ${list.name || list.list_id}? This cannot be undone.`;
  if (!(await ask(question, "Delete list", list.list_id))) return;
  await busy(button, async () => {
    try {
      await api("DELETE", path("/lists", list.list_id));
      say("lists-notice", `Deleted ${list.name || list.list_id}`);
      await refresh();
    } catch (error) {
      say("lists-notice", error.message, true);
    }
  });
}
