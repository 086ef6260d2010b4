// The send form: only the templates of the account the message will go out on, and a
// live preview of what will be sent and what it costs. The numbers come from the server
// (the parts rule, signature, price, footer and learned words of each account), which
// counts with the same ones when the form is sent.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  const template = document.querySelector("select.xunchen-template-select");
  const preview = document.getElementById("send-preview");
  if (!template) {
    return;
  }
  const kind = document.getElementById("id_kind");
  const account = document.getElementById("id_account");
  const mobiles = document.getElementById("id_mobiles");
  const content = document.getElementById("id_content");
  const params = document.getElementById("id_params");
  const routes = JSON.parse(template.dataset.routes || "{}");
  const settings = preview ? JSON.parse(preview.dataset.settings || "{}") : {};
  const FOOTER = /退订|拒收|回\s*[TtRrNn]\b|STOP/i;
  const MOBILE = /^1[3-9]\d{9}$/;

  function chosenAccount() {
    if (account && account.value) {
      return account.value;
    }
    return routes[kind ? kind.value : "notification"] || "default";
  }

  function filterTemplates() {
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

  function numbers() {
    const entries = (mobiles ? mobiles.value : "").split(/[\n,，;；]+/);
    const valid = new Set();
    for (const entry of entries) {
      let digits = entry.replace(/[\s\-()]/g, "").replace(/^(\+?86)(?=1\d{10}$)/, "");
      digits = digits.replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
      if (MOBILE.test(digits)) {
        valid.add(digits);
      }
    }
    return valid.size;
  }

  // How many of the numbers would not be sent (suppressed, over the daily cap): the
  // server screens them with the rule a send applies, a moment after typing stops.
  let stopped = { key: "", count: 0 };
  let asking = null;

  function screenNumbers() {
    if (!preview || !preview.dataset.numbersUrl || !mobiles) {
      return;
    }
    const key = [mobiles.value, kind ? kind.value : "", chosenAccount()].join("\u0000");
    if (key === stopped.key) {
      return;
    }
    window.clearTimeout(asking);
    asking = window.setTimeout(async function () {
      const csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
      const body = new URLSearchParams({
        mobiles: mobiles.value,
        kind: kind ? kind.value : "",
        account: account ? account.value : "",
      });
      try {
        const response = await fetch(preview.dataset.numbersUrl, {
          method: "POST",
          headers: { "X-CSRFToken": csrf ? csrf.value : "" },
          body: body,
          credentials: "same-origin",
        });
        if (response.ok) {
          stopped = { key: key, count: (await response.json()).suppressed };
          update();
        }
      } catch (error) {
        // The preview stays as it was; the send screens the numbers anyway.
      }
    }, 300);
  }

  function text(conf) {
    const option = template.selectedOptions[0];
    if (option && option.dataset.body) {
      const values = {};
      for (const line of (params ? params.value : "").split("\n")) {
        const at = line.indexOf("=");
        if (at > 0) {
          values[line.slice(0, at).trim().replace(/@/g, "")] = line.slice(at + 1).trim();
        }
      }
      return option.dataset.body.replace(/@(\d+)@/g, (m, n) => (n in values ? values[n] : m));
    }
    let body = (content ? content.value : "").trim();
    if (body && kind && kind.value === "marketing" && conf.footer && !FOOTER.test(body)) {
      body += conf.footer;
    }
    return body;
  }

  function money(value) {
    return (Math.round(value * 10000) / 10000).toString();
  }

  function update() {
    if (!preview) {
      return;
    }
    const conf = (settings.accounts || {})[chosenAccount()];
    if (!conf) {
      return;
    }
    const body = text(conf);
    const chars = body ? body.length + conf.signature.length : 0;
    const parts = !body ? 0 : chars <= conf.single ? 1 : Math.ceil(chars / conf.each);
    const count = numbers();
    const key = [mobiles ? mobiles.value : "", kind ? kind.value : "", chosenAccount()];
    const suppressed = key.join("\u0000") === stopped.key ? Math.min(stopped.count, count) : 0;
    const total = parts * (count - suppressed);
    const cost = total * parseFloat(conf.price);
    document.getElementById("preview-text").textContent = body ? conf.signature + body : "";
    document.getElementById("preview-chars").textContent = chars;
    document.getElementById("preview-parts").textContent = parts;
    document.getElementById("preview-numbers").textContent = count - suppressed;
    document.getElementById("preview-suppressed").textContent = suppressed;
    screenNumbers();
    document.getElementById("preview-total").textContent = total;
    document.getElementById("preview-cost").textContent = money(cost);
    document.getElementById("preview-balance").textContent =
      conf.balance === null ? "—" : money(parseFloat(conf.balance) - cost);
    const found = conf.words.filter((word) => body.includes(word));
    const warning = document.getElementById("preview-words");
    warning.style.display = found.length === 0 ? "none" : "";
    warning.querySelector("span").textContent = found.join(", ");
  }

  for (const field of [kind, account]) {
    if (field) {
      field.addEventListener("change", function () {
        filterTemplates();
        update();
      });
    }
  }
  template.addEventListener("change", update);
  for (const field of [mobiles, content, params]) {
    if (field) {
      field.addEventListener("input", update);
    }
  }
  filterTemplates();
  update();
});
