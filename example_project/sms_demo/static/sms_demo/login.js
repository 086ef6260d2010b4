// "Get code": ask the JSON view for a code, then count down until another may be asked.
"use strict";
(function () {
  const button = document.getElementById("get-code");
  const mobile = document.getElementById("id_mobile");
  const note = document.getElementById("code-note");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const label = button.textContent;
  const TEXTS = {
    sent: "验证码已发送 The code is on its way.",
    throttled: "请稍后再试 Too many requests: please wait.",
    failed: "发送失败，请稍后再试 The code could not be sent; try again later.",
    invalid: "请输入正确的手机号 Enter a mainland China mobile number.",
  };

  function countdown(seconds) {
    button.disabled = true;
    let left = seconds;
    const tick = function () {
      if (left <= 0) {
        button.disabled = false;
        button.textContent = label;
        return;
      }
      button.textContent = left + " s";
      left -= 1;
      window.setTimeout(tick, 1000);
    };
    tick();
  }

  const waiting = parseInt(button.dataset.retryAfter || "0", 10);
  if (waiting > 0) {
    countdown(waiting); // the cooldown goes on across a reload
  }

  button.addEventListener("click", async function () {
    const body = new URLSearchParams({ mobile: mobile.value, purpose: "login" });
    const response = await fetch(button.dataset.url, {
      method: "POST",
      headers: { "X-CSRFToken": csrf },
      body: body,
      credentials: "same-origin",
    });
    const answer = await response.json();
    note.textContent = TEXTS[answer.status] || TEXTS.failed;
    if (answer.retry_after) {
      countdown(answer.retry_after);
    }
  });
})();
