// A list's topics, in the list's settings panel: add one, rename it, change its default,
// delete it (subscribers' choices for it then stop counting). lists.js opens it.
import { api, ask, busy, byId, el, fillBody, path, row, say } from "./core.js";

const state = { list: null, editing: null };

export function setup() {
  byId("topic-form").addEventListener("submit", saveTopic);
  byId("topic-cancel").addEventListener("click", () => resetForm());
}

export async function open(list) {
  state.list = list;
  resetForm();
  await refresh();
}

async function refresh() {
  const page = await api("GET", path("/lists", state.list.list_id, "topics"));
  fillBody(byId("topics"), page.topics.map(topicRow), "No topics: the list's mail is one stream");
}

function topicRow(topic) {
  const name = el("td");
  name.append(el("strong", topic.name), el("div", topic.id, "muted"));
  const actions = el("div", null, "row-actions");
  const edit = el("button", "Edit");
  edit.type = "button";
  edit.addEventListener("click", () => editTopic(topic));
  const remove = el("button", "Delete…", "danger");
  remove.type = "button";
  remove.addEventListener("click", () => deleteTopic(remove, topic));
  actions.append(edit, remove);
  const cell = el("td");
  cell.append(actions);
  return row(name, el("td", topic.default === "in" ? "in until they choose" : "out until they choose"),
    el("td", topic.description || "–", "muted wrap"), cell);
}

function resetForm() {
  state.editing = null;
  const form = byId("topic-form");
  form.reset();
  form.elements.id.disabled = false;
  byId("topic-save").textContent = "Add topic";
  byId("topic-cancel").hidden = true;
}

function editTopic(topic) {
  state.editing = topic.id;
  const form = byId("topic-form");
  form.elements.id.value = topic.id;
  form.elements.id.disabled = true;
  form.elements.name.value = topic.name;
  form.elements.description.value = topic.description;
  form.elements.default.value = topic.default;
  byId("topic-save").textContent = "Save topic";
  byId("topic-cancel").hidden = false;
  form.elements.name.focus();
}

async function saveTopic(event) {
  event.preventDefault();
  const data = new FormData(event.target);
  const body = {
    name: String(data.get("name") || "").trim(),
    description: String(data.get("description") || "").trim(),
    default: data.get("default"),
  };
  await busy(byId("topic-save"), async () => {
    try {
      const base = path("/lists", state.list.list_id, "topics");
      const saved = state.editing
        ? await api("PATCH", path(base, state.editing), body)
        : await api("POST", base, { id: String(data.get("id") || "").trim(), ...body });
      say("topic-notice", `Saved ${saved.name}`);
      resetForm();
      await refresh();
    } catch (error) {
      say("topic-notice", error.message, true);
    }
  });
}

async function deleteTopic(button, topic) {
  const question = `Delete the topic ${topic.name}? Subscribers' choices for it stop counting, `
    + "and a topic made later with the same id starts afresh. Campaigns sent to it keep what they were sent with.";
  if (!(await ask(question, "Delete topic", topic.id))) return;
  await busy(button, async () => {
    try {
      await api("DELETE", path("/lists", state.list.list_id, "topics", topic.id));
      say("topic-notice", `Deleted ${topic.name}`);
      await refresh();
    } catch (error) {
      say("topic-notice", error.message, true);
    }
  });
}
