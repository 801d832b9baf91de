// Saved segments of a list (a card of the Lists section): each with its definition, created,
// edited and deleted with the API's own validation messages beside the form, and its size
// when saved.
import { api, ask, busy, byId, el, fillBody, path, row, say } from "./core.js";

const state = { listId: null, editing: null };

export function setup() {
  byId("segment-form").addEventListener("submit", saveSegment);
  byId("segment-clear").addEventListener("click", clearForm);
  byId("segments-close").addEventListener("click", () => { byId("list-segments").hidden = true; });
}

export async function open(list) {
  state.listId = list.list_id;
  byId("list-segments-title").textContent = `Segments of ${list.name || list.list_id}`;
  clearForm();
  byId("list-segments").hidden = false;
  await refresh();
  byId("list-segments").scrollIntoView({ block: "start" });
  byId("segment-form").elements.name.focus();
}

async function refresh() {
  const page = await api("GET", path("/lists", state.listId, "segments"));
  fillBody(byId("segments"), page.segments.map(segmentRow), "No saved segments yet");
}

function segmentRow(segment) {
  const name = el("td");
  name.append(el("strong", segment.name), el("div", `version ${segment.version}`, "muted"));
  const actions = el("div", null, "row-actions");
  const edit = el("button", "Edit");
  edit.addEventListener("click", () => editSegment(segment));
  const remove = el("button", "Delete…", "danger");
  remove.addEventListener("click", () => deleteSegment(remove, segment));
  actions.append(edit, remove);
  const cell = el("td");
  cell.append(actions);
  const tr = row(name, el("td", segment.segment_text), cell);
  tr.dataset.id = segment.segment_id;
  return tr;
}

function editSegment(segment) {
  state.editing = segment;
  const form = byId("segment-form");
  form.elements.name.value = segment.name;
  form.elements.segment.value = segment.segment_text;
  byId("segment-form-title").textContent = `Edit ${segment.name}`;
  form.elements.name.focus();
}

function clearForm() {
  state.editing = null;
  byId("segment-form").reset();
  byId("segment-form-title").textContent = "New segment";
}

async function saveSegment(event) {
  event.preventDefault();
  const data = new FormData(event.target);
  const body = { name: data.get("name").trim(), segment: data.get("segment").trim() };
  const editing = state.editing;
  await busy(byId("segment-save"), async () => {
    try {
      const saved = editing
        ? await api("PATCH", path("/lists", state.listId, "segments", editing.segment_id),
          { ...body, version: editing.version })
        : await api("POST", path("/lists", state.listId, "segments"), body);
      const warning = saved.size.warnings.length ? ` (warning: ${saved.size.warnings[0]})` : "";
      say("segment-notice", `Saved ${saved.name}: ${saved.size.receiving.text} would get mail${warning}`);
      clearForm();
      await refresh();
    } catch (error) {
      say("segment-notice", error.message, true);
    }
  });
}

async function deleteSegment(button, segment) {
  const question = `Delete the segment ${segment.name}? Campaigns made from it keep their copy.`;
  if (!(await ask(question, "Delete segment"))) return;
  await busy(button, async () => {
    try {
      await api("DELETE", path("/lists", state.listId, "segments", segment.segment_id));
      say("segment-notice", `Deleted ${segment.name}`);
      await refresh();
    } catch (error) {
      say("segment-notice", error.message, true);
    }
  });
}
