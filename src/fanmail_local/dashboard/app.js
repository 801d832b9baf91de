// The fanmail dashboard: plain JavaScript modules over the admin API (same origin), no build
// step. Each section of the page is a module with `show` (the section was opened) and
// `refresh` (called every second while it is open); this file routes between them.
import { api, byId, say } from "./core.js";
import * as campaigns from "./campaigns.js";
import * as lists from "./lists.js";
import * as subscribers from "./subscribers.js";
import * as templates from "./templates.js";
import * as outbox from "./outbox.js";
import * as people from "./people.js";

const SECTIONS = { campaigns, lists, subscribers, templates, people, outbox };
const state = { current: null, config: null };

// #campaigns/ID, #lists, #subscribers/LIST, #templates, #people/EMAIL, #outbox
function route() {
  const [name, ...rest] = location.hash.slice(1).split("/");
  const section = SECTIONS[name] ? name : "campaigns";
  const argument = rest.length ? decodeURIComponent(rest.join("/")) : null;
  for (const other of Object.keys(SECTIONS)) {
    byId(`view-${other}`).hidden = other !== section;
  }
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  state.current = section;
  SECTIONS[section].show(argument).catch((error) => say("page-notice", error.message, true));
}

async function tick() {
  const section = SECTIONS[state.current];
  if (!section || document.hidden) return;
  try {
    await section.refresh();
  } catch (error) {
    say("page-notice", error.message, true);
  }
}

async function start() {
  state.config = await api("GET", "/dashboard/config.json");
  byId("mode").textContent = state.config.mode === "local" ? "local stand-in" : state.config.mode;
  byId("outbox-link").hidden = !state.config.outbox;
  for (const section of Object.values(SECTIONS)) section.setup(state.config);
  // an older link: /?campaign=ID
  const wanted = new URLSearchParams(location.search).get("campaign");
  if (wanted && !location.hash) history.replaceState(null, "", `/#campaigns/${encodeURIComponent(wanted)}`);
  window.addEventListener("hashchange", route);
  route();
  setInterval(tick, 1000);
}

start().catch((error) => say("page-notice", error.message, true));
