// crmbot IM simulator: act as a demo user; every action goes through the real callback on the server.
(function () {
  "use strict";
  var API = "/dev/simulator/api";
  var PLATFORM_NAMES = { wecom: "企业微信", dingtalk: "钉钉" };
  var state = { platform: localStorage.getItem("sim.platform") || document.body.dataset.defaultPlatform || "wecom",
                user: localStorage.getItem("sim.user") || "rep1", last: "", names: {}, chat: "" };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function showError(message) {
    var box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function request(method, url, body, isForm) {
    var options = { method: method, headers: {} };
    if (body && isForm) options.body = body;
    else if (body) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    return fetch(url, options).then(function (resp) {
      return resp.json().catch(function () { return { ok: false, error: "服务器返回了无法识别的内容" }; });
    }).then(function (data) {
      showError(data.ok === false ? data.error : "");
      if (data.ok !== false) poll();
      return data;
    }).catch(function () { showError("网络错误，请稍后再试"); });
  }

  // A tiny, safe markdown: escape everything (textContent), then only headings, bold, links (our
  // server's or any http(s) page, opened in a new tab), list and quote lines.
  function markdown(text) {
    var box = el("div", "md");
    text.split("\n").forEach(function (line) {
      var row = el("div");
      var body = line.replace(/^#{1,6}\s*/, "").replace(/^>\s?/, "").replace(/^-\s/, "• ");
      if (/^#{1,6}\s/.test(line)) row.style.fontWeight = "600";
      if (/^>/.test(line)) row.style.color = "#1a7f37";
      body.split(/(\*\*[^*]+\*\*|\[[^\]]*\]\([^)\s]+\))/).forEach(function (part) {
        var link = /^\[([^\]]*)\]\(([^)\s]+)\)$/.exec(part);
        if (/^\*\*[^*]+\*\*$/.test(part)) row.appendChild(el("b", null, part.slice(2, -2)));
        else if (link && /^(https?:\/\/|\/app\/)/.test(link[2])) {
          var a = el("a", null, link[1]);
          a.href = link[2]; a.target = "_blank"; a.rel = "noopener";
          row.appendChild(a);
        } else row.appendChild(document.createTextNode(part));
      });
      box.appendChild(row);
    });
    return box;
  }

  function renderCard(card) {
    var box = el("div", "card");
    box.dataset.cardId = card.card_id;
    if (card.source) box.appendChild(el("div", "source", card.source));
    box.appendChild(el("div", "title", card.title));
    if (card.desc) box.appendChild(el("div", "desc", card.desc));
    if (card.markdown) box.appendChild(markdown(card.markdown));
    if (card.text) box.appendChild(el("div", "text", card.text));
    if (card.fields && card.fields.length) {
      var list = el("dl");
      card.fields.forEach(function (f) { list.appendChild(el("dt", null, f.label)); list.appendChild(el("dd", null, f.value)); });
      box.appendChild(list);
    }
    if (card.buttons && card.buttons.length) {
      var row = el("div", "buttons");
      card.buttons.forEach(function (b) {
        if (b.key) {
          var button = el("button", b.style, b.text);
          button.type = "button";
          button.addEventListener("click", function () {
            button.disabled = true;
            request("POST", API + "/click", { platform: state.platform, user: state.user,
                                              card_id: card.card_id, key: b.key, text: b.text });
          });
          row.appendChild(button);
        } else if (b.url) {
          var link = el("a", b.style, b.text);
          link.href = b.url; link.target = "_blank"; link.rel = "noopener";
          row.appendChild(link);
        }
      });
      box.appendChild(row);
    }
    if (card.done_note) box.appendChild(el("div", "done", card.done_note));
    if (card.updated) box.appendChild(el("div", "updated", "卡片已更新"));
    return box;
  }

  // Reminders go where the user last wrote: say so when this chat is empty because of that.
  function emptyText(reaches) {
    if (reaches && reaches !== state.platform) {
      return (state.names[state.user] || state.user) + "的提醒现在发到" + PLATFORM_NAMES[reaches] +
        "（最近使用的平台）。在这里发一条消息后，提醒会改发到" + PLATFORM_NAMES[state.platform] + "。";
    }
    return "还没有消息。试试发送“帮助”或“查 华东机电”。";
  }

  function render(messages, reaches) {
    var list = $("messages");
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    list.textContent = "";
    if (!messages.length) list.appendChild(el("div", "empty", emptyText(reaches)));
    messages.forEach(function (m) {
      var row = el("div", "msg " + (m.from === "me" ? "me" : "bot"));
      row.dataset.type = m.type;
      if (m.type === "card") row.appendChild(renderCard(m.card));
      else {
        var bubble = m.type === "markdown" ? markdown(m.text) : el("div", null, m.text);
        bubble.classList.add("bubble");
        if (m.label) bubble.insertBefore(el("div", "label", m.label), bubble.firstChild);
        if (m.media_url && m.type === "image") { var img = el("img"); img.src = m.media_url; img.alt = "照片"; bubble.appendChild(img); }
        if (m.status && m.status !== 200) { bubble.classList.add("refused"); bubble.appendChild(el("div", "status", "回调被拒绝 HTTP " + m.status)); }
        row.appendChild(bubble);
      }
      list.appendChild(row);
    });
    if (nearBottom) list.scrollTop = list.scrollHeight;
  }

  function poll() {
    var url = API + "/conversation?platform=" + encodeURIComponent(state.platform) + "&user=" + encodeURIComponent(state.user);
    return fetch(url).then(function (r) { return r.json(); }).then(function (data) {
      var key = JSON.stringify([data.messages || [], data.reaches]);
      if (key !== state.last) { state.last = key; render(data.messages || [], data.reaches); }
    }).catch(function () {});
  }

  function showClock(data) {
    if (!data || !data.label) return;
    $("clock-now").textContent = data.label;
    var held = $("held");
    if (data.held) {
      held.textContent = data.held_note;
      held.hidden = false;
    } else {
      held.hidden = true;
    }
  }

  function pollClock() {
    var url = API + "/clock?platform=" + encodeURIComponent(state.platform) + "&user=" + encodeURIComponent(state.user);
    return fetch(url).then(function (r) { return r.json(); }).then(showClock).catch(function () {});
  }

  function jump(to) {
    request("POST", API + "/clock", { jump: to, platform: state.platform, user: state.user }).then(function (data) {
      showClock(data);
      setTimeout(poll, 300);
    });
  }

  // 客户聊天: the user's WeCom customers; opening one shows its sidebar page (logged in as the user).
  function loadChats() {
    var nav = $("convs"), asked = state.platform + "/" + state.user;
    Array.prototype.forEach.call(nav.querySelectorAll(".conv[data-chat]:not([data-chat=''])"), function (b) { b.remove(); });
    nav.hidden = true;
    var url = API + "/chats?platform=" + encodeURIComponent(state.platform) + "&user=" + encodeURIComponent(state.user);
    return fetch(url).then(function (r) { return r.json(); }).then(function (data) {
      if (asked !== state.platform + "/" + state.user) return;  // the user changed meanwhile
      (data.chats || []).forEach(function (chat) {
        var button = el("button", "conv", "客户聊天：" + chat.label);
        button.type = "button";
        button.dataset.chat = chat.external_userid;
        button.addEventListener("click", function () { openChat(chat); });
        nav.appendChild(button);
      });
      nav.hidden = !(data.chats || []).length;
    }).catch(function () {});
  }

  function markConv(id) {
    Array.prototype.forEach.call(document.querySelectorAll(".conv"), function (b) {
      b.classList.toggle("active", b.dataset.chat === id);
    });
  }

  function openChat(chat) {
    state.chat = chat.external_userid;
    markConv(chat.external_userid);
    $("customer-name").textContent = chat.name;
    $("customer-company").textContent = chat.company;
    $("sidebar-frame").src = chat.sidebar_url;
    $("bot-chat").hidden = true;
    $("customer-chat").hidden = false;
  }

  function openBotChat() {
    state.chat = "";
    markConv("");
    $("customer-chat").hidden = true;
    $("sidebar-frame").removeAttribute("src");
    $("bot-chat").hidden = false;
  }

  function choose(platform, user) {
    openBotChat();
    state.platform = platform; state.user = user; state.last = "";
    localStorage.setItem("sim.platform", platform); localStorage.setItem("sim.user", user);
    document.body.className = platform;
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (t) {
      t.classList.toggle("active", t.dataset.platform === platform);
      t.setAttribute("aria-selected", t.dataset.platform === platform);
    });
    $("chat-title").textContent = PLATFORM_NAMES[platform] + " · crmbot 销售助手";
    $("messages").textContent = "";
    poll();
    pollClock();
    loadChats();
  }

  function sendText(text) {
    text = (text || "").trim();
    if (!text) { showError("请输入要发送的内容"); return; }
    $("text").value = "";
    request("POST", API + "/send", { platform: state.platform, user: state.user, text: text });
  }

  function upload(input, kind) {
    var file = input.files[0];
    if (!file) return;
    var form = new FormData();
    form.append("platform", state.platform); form.append("user", state.user);
    form.append("kind", kind); form.append("file", file);
    input.value = "";
    request("POST", API + "/upload", form, true);
  }

  $("composer").addEventListener("submit", function (e) { e.preventDefault(); sendText($("text").value); });
  Array.prototype.forEach.call(document.querySelectorAll(".chip"), function (chip) {
    chip.addEventListener("click", function () { sendText(chip.textContent); });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (tab) {
    tab.addEventListener("click", function () { choose(tab.dataset.platform, state.user); });
  });
  document.querySelector(".conv[data-chat='']").addEventListener("click", openBotChat);
  Array.prototype.forEach.call(document.querySelectorAll("[data-jump]"), function (b) {
    b.addEventListener("click", function () { jump(b.dataset.jump); });
  });
  setInterval(pollClock, 5000);
  $("user").addEventListener("change", function () { choose(state.platform, $("user").value); });
  $("photo").addEventListener("change", function () { upload($("photo"), "image"); });
  $("voice").addEventListener("change", function () { upload($("voice"), "voice"); });

  fetch(API + "/users").then(function (r) { return r.json(); }).then(function (data) {
    var select = $("user");
    var users = data.users || [];
    users.forEach(function (u) {
      state.names[u.id] = u.name;
      var option = el("option", null, u.name + "（" + u.role + "）");
      option.value = u.id; option.title = u.id;
      select.appendChild(option);
    });
    if (!users.some(function (u) { return u.id === state.user; }) && users.length) state.user = users[0].id;
    select.value = state.user;
    choose(state.platform, state.user);
  });
  setInterval(poll, 1000);
})();
