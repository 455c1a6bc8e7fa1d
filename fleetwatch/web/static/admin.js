// Administration: a new system token is shown once, from the API's answer, with the exact
// commands that use it. Everything goes in as text.
document.addEventListener("fleetwatch:done", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.dataset.secret === undefined) return;
  const token = event.detail?.token;
  const box = document.getElementById("secret-box");
  if (!token || !box) return;
  const hub = form.dataset.hub;
  const system = event.detail?.system?.name ?? new FormData(form).get("name");
  box.querySelector("[data-system]").textContent = system;
  box.querySelector("[data-token]").textContent = token;
  box.querySelector("[data-push]").textContent = `fleetwatch push --hub ${hub} --token ${token}`;
  box.querySelector("[data-curl]").textContent =
    `curl -u ":${token}" -X PUT -H 'Content-Type: application/json' --data @stats.json ${hub}/api/external/submit_stats`;
  box.hidden = false;
  box.focus();
});
