// A person's data: what the stack holds about one address (GET /people/{email}) and its
// erasure (DELETE /people/{email}), done only when the address shown is typed again.
import { api, busy, byId, path, say } from "./core.js";

const state = { email: null };

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

export async function refresh() {}

function describe(person) {
  const lines = [person.email, ""];
  for (const m of person.memberships) {
    lines.push(`list ${m.list_id}: ${m.status} ${JSON.stringify(m.attributes)}`);
    for (const c of m.consent_history) {
      lines.push(`  ${new Date(c.at * 1000).toLocaleString()} ${c.status} by ${c.how} ${c.source}`);
    }
  }
  for (const c of person.campaigns) {
    const events = c.events.join(", ") || "none";
    lines.push(`campaign ${c.campaign_id}: ${c.status}, message ${c.message_id}, events ${events}`);
  }
  for (const s of person.signups) lines.push(`sign-up waiting on ${s.list_id} from ${s.source}`);
  for (const r of person.rejected_rows) {
    lines.push(`rejected row ${r.import_id} line ${r.line}: ${r.reason}`);
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
      const receipt = await api("DELETE", path("/people", state.email));
      const removed = Object.entries(receipt.removed).map(([k, n]) => `${n} ${k}`).join(", ");
      say("people-notice", `Erased (receipt ${receipt.erasure_id}): ${removed}`);
      byId("person").hidden = true;
      byId("erase-typed").value = "";
      state.email = null;
    } catch (error) {
      say("people-notice", error.message, true);
    }
  });
}
