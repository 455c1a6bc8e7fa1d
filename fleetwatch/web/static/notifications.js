// Notifications: a webhook's new signing secret is shown once, from the API's answer; a test
// send shows the receiver's answer. Both boxes sit outside the refreshed parts, so a live
// refresh does not wipe them. Everything goes in as text.
document.addEventListener("fleetwatch:done", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const name = new FormData(form).get("name");
  if (form.dataset.secret !== undefined) {
    const secret = event.detail?.secret;
    const box = document.getElementById("secret-box");
    if (!secret || !box) return;
    box.querySelector("[data-channel]").textContent = name;
    box.querySelector("[data-token]").textContent = secret;
    box.hidden = false;
    box.focus();
  } else if (form.dataset.test !== undefined) {
    const box = document.getElementById("test-result");
    if (!box) return;
    const answer = event.detail ?? {};
    const status = answer.statusCode === null || answer.statusCode === undefined
      ? "no HTTP status" : `HTTP ${answer.statusCode}`;
    box.querySelector("[data-channel]").textContent = name;
    box.querySelector("[data-outcome]").textContent = `${answer.sent ? "sent" : "not sent"} (${status})`;
    box.querySelector("[data-answer]").textContent = answer.detail || "(an empty answer)";
    box.dataset.sent = answer.sent ? "yes" : "no";
    box.hidden = false;
  }
});
