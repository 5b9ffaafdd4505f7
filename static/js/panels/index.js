// Model panels: one module per model, chosen by the model's name; any other model gets
// the generic tables. Adding a panel is one module here and its name in PANELS.
import * as generic from "./generic.js";

const PANELS = ["raft", "twopc", "saga", "outbox", "idempotency", "heartbeat", "lease"];

export async function panelFor(model) {
  if (!PANELS.includes(model)) return generic;
  try {
    return { ...generic, ...(await import(`./${model}.js`)) };
  } catch (err) {
    console.error(`panel for ${model} failed to load; using the generic one`, err);
    return generic;
  }
}
