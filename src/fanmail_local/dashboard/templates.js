// Templates: the shipped ones (read-only defaults) and an editor whose draft is rendered live,
// in the API's sandbox, as a chosen subscriber of a chosen list would get it.
import { api, busy, byId, el, fillSelect, path, say, showEmail, wireTabs } from "./core.js";

const STARTER = {
  subject: "{{ list.brand | default('News') }}: {{ headline | default('what is new') }}",
  html: `{% extends "_layouts/base.html.j2" %}
{% block content %}
<p>Hello {{ first_name | default('there') }},</p>
<h1>{{ headline | default('What is new') }}</h1>
<p>Write your news here.</p>
{% endblock %}
`,
};
const state = { timer: null, asked: 0 };

export function setup() {
  byId("editor-subject").value = STARTER.subject;
  byId("editor-html").value = STARTER.html;
  wireTabs(byId("editor-view"));
  const editor = byId("editor");
  editor.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(byId("editor-preview"), preview);
  });
  byId("editor-save").addEventListener("click", (event) => busy(event.currentTarget, save));
  editor.addEventListener("input", () => {
    clearTimeout(state.timer);
    state.timer = setTimeout(preview, 600); // live, once typing pauses
  });
}

export async function show() {
  const [templates, lists] = await Promise.all([api("GET", "/templates"), api("GET", "/lists?limit=1000")]);
  showTemplates(templates);
  fillSelect(byId("editor-list"), lists.lists.map((l) => [l.list_id, l.name || l.list_id]), "(a sample subscriber)");
  await preview();
}

export async function refresh() {}

function showTemplates(templates) {
  const stored = templates.stored.map((found) => {
    const item = el("li");
    const open = el("button", found.name);
    open.type = "button";
    open.addEventListener("click", () => load(found.name));
    item.append(open, el("span", `version ${found.version}`, "badge muted"));
    return item;
  });
  const shipped = templates.templates.map((name) => {
    const item = el("li");
    item.append(el("strong", name), el("span", "shipped, read-only", "badge muted"));
    return item;
  });
  byId("templates").replaceChildren(...stored, ...shipped);
}

// A stored template's latest version, into the editor.
async function load(name) {
  const found = await api("GET", path("/templates", name));
  byId("editor-subject").value = found.parts.subject;
  byId("editor-html").value = found.parts.html;
  byId("editor-text").value = found.parts.text;
  byId("editor-name").value = found.name;
  say("save-notice", `Loaded ${found.reference}`);
  await preview();
}

async function save() {
  const name = byId("editor-name").value.trim();
  const parts = { subject: byId("editor-subject").value, html: byId("editor-html").value, text: byId("editor-text").value };
  try {
    if (!name) throw new Error("Name the template first");
    const saved = await api("POST", `${path("/templates", name)}/versions`, parts);
    say("save-notice", `Saved ${saved.reference}: new campaigns with ${saved.name} use this version`);
    showTemplates(await api("GET", "/templates"));
  } catch (error) {
    say("save-notice", error.message, true);
  }
}

async function preview() {
  const asked = ++state.asked;
  const body = {
    parts: { subject: byId("editor-subject").value, html: byId("editor-html").value, text: byId("editor-text").value },
  };
  const list = byId("editor-list").value;
  const address = byId("editor-as").value.trim();
  if (list) body.list_id = list;
  if (list && address) body.email = address;
  try {
    const shown = await api("POST", "/templates/preview", body);
    if (asked !== state.asked) return; // a newer draft is on its way
    showEmail(byId("editor-view"), `Preview: ${shown.subject}`, shown);
    byId("editor-notice").hidden = true;
  } catch (error) {
    if (asked === state.asked) say("editor-notice", error.message, true);
  }
}
