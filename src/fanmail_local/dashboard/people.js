// A person's data: what the stack holds about one address (GET /people/{email}) and its
// erasure (DELETE /people/{email}), started only when the address shown is typed again: a job
// followed step by step (GET /erasures/{id}) to its receipt; the receipts listed below.
import { api, busy, byId, fillBody, path, row, say, when, words } from "./core.js";

const state = { email: null, following: null };
const POLL_MS = 400;

export function setup() {
  byId("person-form").addEventListener("submit", lookUp);
  byId("erase-form").addEventListener("submit", erase);
}

export async function show(email) {
  if (email) {
    byId("person-email").value = email;
    await lookUp();
  }
}

export async function refresh() {
  try {
    const page = await api("GET", "/erasures?limit=20");
    fillBody(byId("erasures"), page.erasures.map((job) => row(
      job.erasure_id, when(job.requested_at), job.requested_by, words(job.status), removedText(job),
    )), "No erasures yet");
  } catch (error) {
    say("people-notice", error.message, true);
  }
}

function removedText(job) {
  const parts = Object.entries(job.removed).filter(([, n]) => n).map(([k, n]) => `${n} ${words(k)}`);
  return parts.join(", ") || "nothing held";
}

function showJob(job) {
  byId("erasure").hidden = false;
  byId("erasure-id").textContent = job.erasure_id;
  byId("erasure-status").textContent = job.status === "done"
    ? `Done ${when(job.finished_at)}: ${removedText(job)}`
    : `${words(job.status)}…`;
  fillBody(byId("erasure-steps"), job.steps.map((step) => row(
    words(step.name), words(step.status),
    Object.entries(step.removed).map(([k, n]) => `${n} ${words(k)}`).join(", "),
  )), "");
}

// The job read again until it is done (a newer erasure shown stops this one's polling).
async function follow(job) {
  state.following = job.erasure_id;
  while (state.following === job.erasure_id) {
    showJob(job);
    if (job.status === "done") {
      say("people-notice", `Erased (receipt ${job.erasure_id}): ${removedText(job)}`);
      await refresh();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await api("GET", path("/erasures", job.erasure_id));
  }
}

// The subscriber item's engagement: the last mail events, then the campaigns per UTC day.
function engagementLines(engagement) {
  if (!engagement) return [];
  const last = ["sent", "delivered", "opened", "clicked"]
    .filter((k) => engagement[`last_${k}`])
    .map((k) => `${k} ${new Date(engagement[`last_${k}`]).toLocaleString()}`);
  const lines = [`  last mail: ${last.join(", ") || "none recorded"}`];
  for (const d of engagement.delivered_by_day) lines.push(`  delivered on ${d.day}: ${d.campaigns.join(", ")}`);
  for (const d of engagement.sent_by_day) lines.push(`  sent on ${d.day}: ${d.campaigns.join(", ")}`);
  return lines;
}

function describe(person) {
  const lines = [person.email, ""];
  for (const m of person.memberships) {
    lines.push(`list ${m.list_id}: ${m.status} ${JSON.stringify(m.attributes)}`);
    lines.push(`  signed up ${m.signed_up_at ? new Date(m.signed_up_at).toLocaleString() : "unknown"}`);
    const topics = Object.entries(m.topics || {}).map(([k, v]) => `${k} ${v ? "in" : "out"}`);
    if (topics.length) lines.push(`  topics: ${topics.join(", ")}`);
    lines.push(...engagementLines(m.engagement));
    const bounces = (m.soft_bounces || []).map((at) => new Date(at).toLocaleString());
    if (bounces.length) lines.push(`  soft bounces: ${bounces.join(", ")}`);
    for (const c of m.consent_history) {
      const what = c.topic ? `topic ${c.topic}: ${c.topic_in ? "joined" : "left"}` : c.status;
      lines.push(`  ${new Date(c.at * 1000).toLocaleString()} ${what} by ${c.how} ${c.source}`);
    }
  }
  for (const c of person.campaigns) {
    const events = c.events.join(", ") || "none";
    lines.push(`campaign ${c.campaign_id}: ${c.status}, message ${c.message_id}, events ${events}`);
    for (const e of c.engagement) {
      const seen = Object.entries(e.details).map(([k, v]) => `${k} ${v}`).join(", ");
      lines.push(`  ${e.kind} ${e.occurred_at}: ${seen}`);
    }
  }
  for (const s of person.signups) lines.push(`sign-up waiting on ${s.list_id} from ${s.source}`);
  for (const r of person.rejected_rows) {
    lines.push(`rejected row ${r.import_id} line ${r.line}: ${r.reason}`);
  }
  for (const c of person.campaign_definitions || []) {
    lines.push(`named by campaign ${c.campaign_id} (${c.status}) in its ${c.parts.join(", ")}`);
  }
  for (const s of person.saved_segments || []) {
    lines.push(`named by saved segment ${s.segment_id} ("${s.name}") of list ${s.list_id}`);
  }
  if (person.next_cursor) lines.push("(more campaigns: fanmail people show ADDRESS --cursor ...)");
  return lines.join("\n");
}

async function lookUp(event) {
  if (event) event.preventDefault();
  const email = byId("person-email").value.trim();
  const card = byId("person");
  try {
    const person = await api("GET", path("/people", email));
    byId("person-data").textContent = describe(person);
    state.email = person.email;
    card.hidden = false;
  } catch (error) {
    card.hidden = true;
    say("people-notice", error.message, true);
  }
}

async function erase(event) {
  event.preventDefault();
  const typed = byId("erase-typed").value.trim().toLowerCase();
  if (!state.email || typed !== state.email) {
    say("people-notice", "The address typed is not the one shown: nothing was erased", true);
    return;
  }
  await busy(byId("erase"), async () => {
    try {
      const job = await api("DELETE", path("/people", state.email));
      byId("person").hidden = true;
      byId("erase-typed").value = "";
      state.email = null;
      say("people-notice", `Erasing (job ${job.erasure_id}): the address is refused from now on`);
      await follow(job);
    } catch (error) {
      say("people-notice", error.message, true);
    }
  });
}
