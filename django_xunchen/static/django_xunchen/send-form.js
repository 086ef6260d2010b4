// The send form offers only the templates of the account the message will go out on:
// the one chosen, or else the one its kind is routed to.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  const template = document.querySelector("select.xunchen-template-select");
  if (!template) {
    return;
  }
  const kind = document.getElementById("id_kind");
  const account = document.getElementById("id_account");
  const routes = JSON.parse(template.dataset.routes || "{}");

  function chosenAccount() {
    if (account && account.value) {
      return account.value;
    }
    return routes[kind ? kind.value : "notification"] || "default";
  }

  function filter() {
    const wanted = chosenAccount();
    for (const option of template.options) {
      if (!option.dataset.account) {
        continue;
      }
      const mine = option.dataset.account === wanted;
      option.hidden = !mine;
      option.disabled = !mine;
      if (!mine && option.selected) {
        template.value = "";
      }
    }
  }

  for (const field of [kind, account]) {
    if (field) {
      field.addEventListener("change", filter);
    }
  }
  filter();
});
