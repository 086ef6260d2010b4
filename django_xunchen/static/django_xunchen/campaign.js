"use strict";
// Keeps a campaign's progress panel up to date without reloading the page.
(function () {
  const panel = document.getElementById("campaign-progress");
  if (!panel || panel.dataset.final) return;
  const set = (id, value) => {
    const element = document.getElementById(id);
    if (element) element.textContent = value;
  };
  async function refresh() {
    let data;
    try {
      const response = await fetch(panel.dataset.url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status);
      data = await response.json();
    } catch (error) {
      setTimeout(refresh, 5000);
      return;
    }
    document.getElementById("campaign-bar").style.width = data.percent + "%";
    panel.querySelector(".xunchen-progress").setAttribute("aria-valuenow", data.percent);
    set("campaign-percent", data.percent);
    set("campaign-done", data.done);
    set("campaign-total", data.total);
    set("campaign-state", data.state_label);
    for (const [status, count] of Object.entries(data.counts)) set("count-" + status, count);
    if (data.state === "done" || data.state === "cancelled") {
      window.location.reload();  // the buttons change with the state
      return;
    }
    setTimeout(refresh, 2000);
  }
  setTimeout(refresh, 1000);
})();
