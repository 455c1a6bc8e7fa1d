// The hub's clock as the page sees it. A laptop whose clock is an hour off must still show
// "5 s ago" for a push made 5 s ago, draw the last hour the hub stored, and schedule a downtime
// from the hub's now, so every time the page shows or sends is the browser's clock plus the
// offset learned from the hub's answers.
//
// Each answer's Date header (whole seconds) bounds the offset: the hub wrote it between the
// request leaving and the answer arriving. A server may refresh the header it sends only once
// a second (uvicorn does), so a header stands for up to two seconds of the hub's clock. The
// bounds of successive answers narrow the offset to about a second; bounds that stop
// overlapping mean one of the clocks jumped, and the newest answer alone counts again.

let low = -Infinity;
let high = Infinity;
let offset = 0;

function learn(response, sent, received) {
  const date = Date.parse(response.headers.get("date") ?? "");
  if (Number.isNaN(date)) return;
  const lowest = date - received;
  const highest = date + 2000 - sent;
  if (lowest > high || highest < low) {
    low = lowest;
    high = highest;
  } else {
    low = Math.max(low, lowest);
    high = Math.min(high, highest);
  }
  offset = (low + high) / 2;
}

/** The hub's time now, in epoch seconds. */
export function hubNow() {
  return (Date.now() + offset) / 1000;
}

/** fetch, learning the hub's clock from the answer. */
export async function hubFetch(resource, options) {
  const sent = Date.now();
  const response = await fetch(resource, options);
  learn(response, sent, Date.now());
  return response;
}
