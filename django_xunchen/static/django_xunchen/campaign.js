"use strict";
// Keeps a campaign's progress panel up to date without reloading the page.
(function () {
  // While its file is checked in the background: rows checked, until the check ends.
  const check = document.getElementById("campaign-check");
  if (!check) return;
  const show = (id, value) => {
    const element = document.getElementById(id);
    if (element) element.textContent = value;
  };
  async function follow() {
    let data;
    try {
      const response = await fetch(check.dataset.url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status);
      data = await response.json();
    } catch (error) {
      setTimeout(follow, 5000);
      return;
    }
    if (data.state !== "checking") {
      window.location.reload();  // the check, the estimate and the buttons show now
      return;
    }
    document.getElementById("check-bar").style.width = data.check.percent + "%";
    check.querySelector(".xunchen-progress").setAttribute("aria-valuenow", data.check.percent);
    show("check-percent", data.check.percent);
    show("check-done", data.check.done);
    show("check-total", data.check.total);
    setTimeout(follow, 2000);
  }
  setTimeout(follow, 1000);
})();
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
